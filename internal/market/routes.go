package market

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/service/eucat"
	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/svcpack"
	"github.com/molen-io/molen/internal/uplink"
)

// Routes are the marketplace's (docs/api.md#marketplace).
func (s *Service) Routes() []api.Route {
	return []api.Route{
		{Method: "GET", Path: "/api/v1/market/key", Auth: api.Public, Stream: s.platformKey},
		{Method: "GET", Path: "/api/v1/market/keys", Auth: api.Publisher, Area: "market", Handle: s.listKeys},
		{Method: "POST", Path: "/api/v1/market/keys", Auth: api.Publisher, Area: "market", Handle: s.addKey, MaxBody: 8 << 10},
		{Method: "POST", Path: "/api/v1/market/keys/{id}/revoke", Auth: api.Publisher, Area: "market", Handle: s.revokeKey},
		{Method: "POST", Path: "/api/v1/market/packages", Auth: api.Publisher, Area: "market", Handle: s.publish, MaxBody: svcpack.MaxArchive + 1<<20},
		{Method: "GET", Path: "/api/v1/market/provider", Auth: api.Publisher, Area: "market", Handle: s.provider},
		{Method: "POST", Path: "/api/v1/market/services/{id}/versions/{version}/{action}", Auth: api.Publisher, Area: "market", Handle: s.providerAct},
		{Method: "GET", Path: "/api/v1/market/review", Auth: api.PlatformAdmin, Area: "market", Handle: s.review},
		{Method: "POST", Path: "/api/v1/market/review/{id}/{version}/{action}", Auth: api.PlatformAdmin, Area: "market", Handle: s.platformAct},
		{Method: "GET", Path: "/api/v1/market/services", Auth: api.Viewer, Area: "market", Handle: s.catalogue},
		{Method: "GET", Path: "/api/v1/market/services/{id}", Auth: api.Viewer, Area: "market", Handle: s.listing},
		{Method: "GET", Path: "/api/v1/market/services/{id}/versions/{version}/catalogue", Auth: api.Public, Stream: s.euCatalogue},
		{Method: "GET", Path: "/api/v1/market/installs", Auth: api.Viewer, Area: "market", Handle: s.listInstalls},
		{Method: "POST", Path: "/api/v1/market/installs", Auth: api.Engineer, Area: "market", Handle: s.install, MaxBody: 64 << 10},
		{Method: "GET", Path: "/api/v1/market/grants", Auth: api.Viewer, Area: "market", Handle: s.listGrants},
		{Method: "GET", Path: "/api/v1/market/installs/{name}", Auth: api.Viewer, Area: "market", Handle: s.getInstall},
		{Method: "PUT", Path: "/api/v1/market/installs/{name}", Auth: api.Engineer, Area: "market", Handle: s.changeInstall, MaxBody: 64 << 10},
		{Method: "DELETE", Path: "/api/v1/market/installs/{name}", Auth: api.Engineer, Area: "market", Handle: s.uninstall},
		{Method: "GET", Path: uplink.ServicePath + "{sha256}", Auth: api.Edge, Stream: s.download},
	}
}

func (s *Service) platformKey(w http.ResponseWriter, _ *http.Request, _ api.Principal) error {
	pem, err := sign.EncodePublicKey(s.PublicKey())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, err = w.Write(pem)
	return err
}

func (s *Service) listKeys(r *http.Request, p api.Principal) (any, error) {
	keys, err := s.Keys(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	return map[string]any{"keys": keys}, nil
}

func (s *Service) addKey(r *http.Request, p api.Principal) (any, error) {
	var req struct {
		Name      string `json:"name"`
		PublicKey string `json:"public_key"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return nil, api.BadRequest(`body must be {"name": "...", "public_key": "<PEM>"}`)
	}
	k, err := s.AddKey(r.Context(), p.Org, req.Name, req.PublicKey, p.Actor())
	if err != nil {
		return nil, err
	}
	return api.Created(k), nil
}

func (s *Service) revokeKey(r *http.Request, p api.Principal) (any, error) {
	if err := s.RevokeKey(r.Context(), p.Org, r.PathValue("id")); err != nil {
		return nil, err
	}
	return map[string]string{"revoked": r.PathValue("id")}, nil
}

// publish takes a multipart form: "signature" (the provider's DSSE
// envelope, molen service sign) and "package" (the archive).
func (s *Service) publish(r *http.Request, p api.Principal) (any, error) {
	const usage = `body must be multipart/form-data with the parts "signature" (the DSSE envelope, molen service sign) and "package" (the .molen archive)`
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, api.BadRequest("%s", usage)
	}
	var env *sign.Envelope
	var archive []byte
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, api.BadRequest("%s: %v", usage, err)
		}
		switch part.FormName() {
		case "signature":
			b, err := io.ReadAll(io.LimitReader(part, 64<<10))
			if err != nil {
				return nil, api.BadRequest("signature: %v", err)
			}
			e, err := sign.Parse(b)
			if err != nil {
				s.refused.WithLabelValues("signature").Inc()
				return nil, api.BadRequest("signature: %v", err)
			}
			env = &e
		case "package":
			var buf bytes.Buffer
			if _, err := io.Copy(&buf, io.LimitReader(part, svcpack.MaxArchive+1)); err != nil {
				return nil, api.BadRequest("package: %v", err)
			}
			if buf.Len() > svcpack.MaxArchive {
				s.refused.WithLabelValues("package").Inc()
				return nil, api.BadRequest("package: larger than %d bytes", svcpack.MaxArchive)
			}
			archive = buf.Bytes()
		}
	}
	if env == nil || archive == nil {
		return nil, api.BadRequest("%s", usage)
	}
	v, err := s.Publish(r.Context(), p.Org, p.Actor(), archive, *env)
	if err != nil {
		return nil, err
	}
	return api.Created(v), nil
}

func (s *Service) provider(r *http.Request, p api.Principal) (any, error) {
	vs, err := s.ProviderVersions(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	keys, err := s.Keys(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	return map[string]any{"versions": vs, "keys": keys}, nil
}

func noteOf(r *http.Request) string {
	var req struct {
		Note string `json:"note"`
	}
	_ = json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req)
	return req.Note
}

func (s *Service) providerAct(r *http.Request, p api.Principal) (any, error) {
	return s.Act(r.Context(), "provider", p.Org, r.PathValue("id"), r.PathValue("version"), r.PathValue("action"), noteOf(r), p.Actor())
}

func (s *Service) platformAct(r *http.Request, p api.Principal) (any, error) {
	return s.Act(r.Context(), "platform", p.Org, r.PathValue("id"), r.PathValue("version"), r.PathValue("action"), noteOf(r), p.Actor())
}

func (s *Service) review(r *http.Request, _ api.Principal) (any, error) {
	vs, err := s.Review(r.Context())
	if err != nil {
		return nil, err
	}
	return map[string]any{"versions": vs}, nil
}

func (s *Service) catalogue(r *http.Request, p api.Principal) (any, error) {
	q := r.URL.Query()
	ls, err := s.Catalogue(r.Context(), p.Org, Filter{Category: q.Get("category"), Maturity: q.Get("maturity"), Provider: q.Get("provider"), Text: q.Get("q")})
	if err != nil {
		return nil, err
	}
	return map[string]any{"services": ls}, nil
}

func (s *Service) listing(r *http.Request, p api.Principal) (any, error) {
	return s.Listing(r.Context(), p.Org, p.OrgKind == "platform", r.PathValue("id"))
}

func (s *Service) listInstalls(r *http.Request, p api.Principal) (any, error) {
	ins, err := s.Installs(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	return map[string]any{"installs": ins}, nil
}

func (s *Service) listGrants(r *http.Request, p api.Principal) (any, error) {
	gs, err := s.DataGrants(r.Context(), p.Org)
	if err != nil {
		return nil, err
	}
	return map[string]any{"grants": gs}, nil
}

func (s *Service) getInstall(r *http.Request, p api.Principal) (any, error) {
	return s.Install(r.Context(), p.Org, r.PathValue("name"))
}

func decodeInstall(r *http.Request) (InstallRequest, error) {
	var req InstallRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, api.BadRequest(`body must be {"service", "version", "scope": "edge|group", "target", "params": {…}, "accept_terms": true}: %v`, err)
	}
	return req, nil
}

func (s *Service) install(r *http.Request, p api.Principal) (any, error) {
	req, err := decodeInstall(r)
	if err != nil {
		return nil, err
	}
	in, err := s.Installed(r.Context(), p.Org, p.Actor(), req, false)
	if err != nil {
		return nil, err
	}
	return api.Created(in), nil
}

func (s *Service) changeInstall(r *http.Request, p api.Principal) (any, error) {
	req, err := decodeInstall(r)
	if err != nil {
		return nil, err
	}
	req.Name = r.PathValue("name")
	return s.Installed(r.Context(), p.Org, p.Actor(), req, true)
}

func (s *Service) uninstall(r *http.Request, p api.Principal) (any, error) {
	if err := s.Uninstall(r.Context(), p.Org, r.PathValue("name"), p.Actor()); err != nil {
		return nil, err
	}
	return map[string]string{"uninstalled": r.PathValue("name")}, nil
}

func (s *Service) download(w http.ResponseWriter, r *http.Request, p api.Principal) error {
	b, err := s.Archive(r.Context(), p.Org, r.PathValue("sha256"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, err = w.Write(b)
	return err
}

// euCatalogue serves a released (or deprecated) version's EU catalogue
// entry as JSON-LD: ?format=dcat (DCAT-AP DataService, the default) or
// gaiax (Gaia-X ServiceOffering). Public: catalogues harvest without
// signing in; drafts, versions in review and revoked ones are not found.
func (s *Service) euCatalogue(w http.ResponseWriter, r *http.Request, _ api.Principal) error {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "dcat"
	}
	if !slices.Contains(eucat.Formats, format) {
		return api.BadRequest("format: %q: want one of %s", format, strings.Join(eucat.Formats, ", "))
	}
	v, err := s.Version(r.Context(), r.PathValue("id"), r.PathValue("version"))
	if err != nil {
		return err
	}
	if v.State != Released && v.State != Deprecated {
		return fmt.Errorf("%s %s: %w", v.Listing, v.Version, meta.ErrNotFound)
	}
	b, err := s.blobs.Read(r.Context(), v.SHA256)
	if err != nil {
		return fmt.Errorf("package %s: %w", v.SHA256, err)
	}
	files, pkg, err := svcpack.Read(b)
	if err != nil {
		return fmt.Errorf("package %s: %w", v.SHA256, err)
	}
	o := eucat.Offering{Package: pkg, Version: v.Version, PackageDigest: v.SHA256}
	if s.cfg.PublicURL != nil {
		o.HubURL = s.cfg.PublicURL()
	}
	if err := eucat.Complete(&o, func(name string) ([]byte, error) {
		if f, ok := files[name]; ok {
			return f, nil
		}
		return nil, fmt.Errorf("%s: not in the package", name)
	}); err != nil {
		return err
	}
	doc, err := eucat.Export(o, format)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/ld+json")
	_, err = w.Write(doc)
	return err
}
