package fleet

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"time"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/blob"
	"github.com/molen-io/molen/internal/meta"
	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/uplink"
)

// Product is the software a release holds; the only one is molen itself.
const Product = "molen"

// MaxRelease bounds a release's binary.
const MaxRelease = 256 << 20

// ReleaseStore is where the hub keeps release binaries (files named by
// their sha256, shared by replicas through internal/blob), and the keys it
// accepts releases signed by (the platform's release keys,
// docs/adr/0020-release-signatures.md).
type ReleaseStore struct {
	Blobs *blob.Store
	Keys  []ed25519.PublicKey
}

// SetReleases has the service keep releases in rs.
func (s *Service) SetReleases(rs ReleaseStore) { s.releases = rs }

// SetMarketKeys names the platform's marketplace keys to enrolling edges:
// they run the services installed from the hub that one of them
// countersigned.
func (s *Service) SetMarketKeys(keys ...ed25519.PublicKey) { s.market = keys }

// Release is one uploaded release: a signed binary of a version for one
// OS and architecture.
type Release struct {
	SHA256     string    `json:"sha256"`
	Product    string    `json:"product"`
	Version    string    `json:"version"`
	OS         string    `json:"os"`
	Arch       string    `json:"arch"`
	Size       int64     `json:"size"`
	Signer     string    `json:"signer"` // the release key's ID (sign.KeyID)
	Uploaded   time.Time `json:"uploaded"`
	UploadedBy string    `json:"uploaded_by"`
	// Envelope is the DSSE envelope that signs the binary.
	Envelope sign.Envelope `json:"-"`
}

// URL is the path an edge downloads the release's binary from.
func (r Release) URL() string { return "/api/v1/edge/releases/" + r.SHA256 }

var (
	versionText  = regexp.MustCompile(`^v?[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$`)
	platformText = regexp.MustCompile(`^[a-z0-9]{1,16}$`)
	sha256Hex    = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// AddRelease verifies and stores a release: the binary (read from bin to
// its end) must be what env's statement names, signed by one of the
// store's keys, for a version, OS and architecture given as text. The
// binary is kept under its sha256; the same binary uploaded again is
// meta.ErrExists, as is another binary of the same version and platform.
func (s *Service) AddRelease(ctx context.Context, env sign.Envelope, bin io.Reader, by string) (Release, error) {
	rs := s.releases
	if rs.Blobs == nil || len(rs.Keys) == 0 {
		return Release{}, api.BadRequest("this hub accepts no releases: it has no release key (molen hub --release-key)")
	}
	if err := os.MkdirAll(rs.Blobs.Dir(), 0o700); err != nil {
		return Release{}, fmt.Errorf("release directory: %w", err)
	}
	tmp, err := os.CreateTemp(rs.Blobs.Dir(), "upload-*.tmp")
	if err != nil {
		return Release{}, fmt.Errorf("store release: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(bin, MaxRelease+1))
	if err != nil {
		return Release{}, api.BadRequest("binary: %v", err)
	}
	if n > MaxRelease {
		return Release{}, api.BadRequest("binary: larger than %d bytes", MaxRelease)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	st, signer, err := sign.VerifyStatement(env, rs.Keys, sum, uplink.ReleasePredicate)
	if err != nil {
		s.releasesRefused.Inc()
		return Release{}, api.BadRequest("envelope: %v", err)
	}
	var pred uplink.Release
	if err := json.Unmarshal(st.Predicate, &pred); err != nil || !versionText.MatchString(pred.Version) || !platformText.MatchString(pred.OS) || !platformText.MatchString(pred.Arch) {
		s.releasesRefused.Inc()
		return Release{}, api.BadRequest(`envelope: the statement's predicate must be {"version": "1.5.0", "os": "linux", "arch": "arm64"}`)
	}
	r := Release{SHA256: sum, Product: Product, Version: pred.Version, OS: pred.OS, Arch: pred.Arch, Size: n,
		Signer: signer, Uploaded: s.now(), UploadedBy: by, Envelope: env}
	if err := tmp.Sync(); err != nil {
		return Release{}, fmt.Errorf("store release: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return Release{}, fmt.Errorf("store release: %w", err)
	}
	// The binary first, then the row: a row always has its binary; a
	// binary without a row (a crash between) is kept again by the next
	// upload.
	if err := rs.Blobs.PutFile(ctx, sum, tmp.Name()); err != nil {
		return Release{}, fmt.Errorf("store release: %w", err)
	}
	envJSON, err := json.Marshal(env)
	if err != nil {
		return Release{}, fmt.Errorf("encode envelope: %w", err)
	}
	err = meta.Inserted(s.db.ExecContext(ctx, `INSERT INTO fleet_releases (sha256, product, version, os, arch, size, signer, envelope, uploaded, uploaded_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
		r.SHA256, r.Product, r.Version, r.OS, r.Arch, r.Size, r.Signer, string(envJSON), meta.Nanos(r.Uploaded), r.UploadedBy))
	if err != nil {
		return Release{}, fmt.Errorf("release %s %s/%s (sha256 %s): %w", r.Version, r.OS, r.Arch, r.SHA256, err)
	}
	s.log.Info("release added", "version", r.Version, "os", r.OS, "arch", r.Arch, "sha256", r.SHA256, "signer", r.Signer)
	return r, nil
}

// Releases lists the releases, newest upload first.
func (s *Service) Releases(ctx context.Context) ([]Release, error) {
	return s.queryReleases(ctx, `SELECT sha256, product, version, os, arch, size, signer, envelope, uploaded, uploaded_by FROM fleet_releases ORDER BY uploaded DESC, version, os, arch`)
}

func (s *Service) queryReleases(ctx context.Context, q string, args ...any) ([]Release, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("releases: %w", err)
	}
	defer rows.Close()
	out := []Release{}
	for rows.Next() {
		var r Release
		var env string
		var at int64
		if err := rows.Scan(&r.SHA256, &r.Product, &r.Version, &r.OS, &r.Arch, &r.Size, &r.Signer, &env, &at, &r.UploadedBy); err != nil {
			return nil, fmt.Errorf("releases: %w", err)
		}
		if err := json.Unmarshal([]byte(env), &r.Envelope); err != nil {
			return nil, fmt.Errorf("release %s: envelope: %w", r.SHA256, err)
		}
		r.Uploaded = meta.Time(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// releasesOf returns the releases of a version, for every platform.
func (s *Service) releasesOf(ctx context.Context, version string) ([]Release, error) {
	return s.queryReleases(ctx, `SELECT sha256, product, version, os, arch, size, signer, envelope, uploaded, uploaded_by FROM fleet_releases WHERE product = $1 AND version = $2`, Product, version)
}

// software resolves a software part's content (a version, as a JSON
// string) for an edge that reported os and arch: the release's binary,
// digest and envelope, or the reason there is none.
func (s *Service) software(ctx context.Context, content json.RawMessage, rep *Reported) (json.RawMessage, error) {
	var version string
	if err := json.Unmarshal(content, &version); err != nil {
		return nil, fmt.Errorf("software part: %w", err)
	}
	sw := uplink.Software{Version: version}
	rels, err := s.releasesOf(ctx, version)
	if err != nil {
		return nil, err
	}
	switch {
	case rep == nil || rep.Report.OS == "":
		sw.Error = "the edge has not reported its OS and architecture yet"
	default:
		sw.OS, sw.Arch = rep.Report.OS, rep.Report.Arch
		i := slices.IndexFunc(rels, func(r Release) bool { return r.OS == sw.OS && r.Arch == sw.Arch })
		if i < 0 {
			sw.Error = fmt.Sprintf("no release of molen %s for %s/%s", version, sw.OS, sw.Arch)
			break
		}
		r := rels[i]
		sw.URL, sw.SHA256, sw.Size, sw.Envelope = r.URL(), r.SHA256, r.Size, &r.Envelope
	}
	return json.Marshal(sw)
}

// checkSoftware refuses a layer's software part whose version has no
// release at all.
func (s *Service) checkSoftware(ctx context.Context, l Layer) error {
	for name, c := range l.Software {
		if isNull(c) {
			continue
		}
		var version string
		if json.Unmarshal(c, &version) != nil {
			continue // Validate said so
		}
		rels, err := s.releasesOf(ctx, version)
		if err != nil {
			return err
		}
		if len(rels) == 0 {
			return api.BadRequest("software.%s: no release of version %q was uploaded (Fleet → Software)", name, version)
		}
	}
	return nil
}

// openRelease opens the binary of the release with sha256 sum.
func (s *Service) openRelease(ctx context.Context, sum string) (*os.File, Release, error) {
	if !sha256Hex.MatchString(sum) {
		return nil, Release{}, fmt.Errorf("release %q: %w", sum, meta.ErrNotFound)
	}
	rels, err := s.queryReleases(ctx, `SELECT sha256, product, version, os, arch, size, signer, envelope, uploaded, uploaded_by FROM fleet_releases WHERE sha256 = $1`, sum)
	if err != nil {
		return nil, Release{}, err
	}
	if len(rels) == 0 {
		return nil, Release{}, fmt.Errorf("release %s: %w", sum, meta.ErrNotFound)
	}
	f, err := s.releases.Blobs.Open(ctx, sum)
	if err != nil {
		return nil, Release{}, fmt.Errorf("release %s's binary: %w", sum, err)
	}
	return f, rels[0], nil
}

// releaseRoutes: platform admins upload releases; members of any
// organisation list them (to choose a version); edges download them
// with their own identity.
func (s *Service) releaseRoutes() []api.Route {
	return []api.Route{
		{Method: "POST", Path: "/api/v1/fleet/releases", Auth: api.PlatformAdmin, Area: "fleet", Handle: s.uploadRelease, MaxBody: MaxRelease + 1<<20},
		{Method: "GET", Path: "/api/v1/fleet/releases", Auth: api.Viewer, Area: "fleet", Handle: s.listReleases},
		{Method: "GET", Path: "/api/v1/edge/releases/{sha256}", Auth: api.Edge, Stream: s.downloadRelease},
	}
}

// uploadRelease takes a multipart form: "envelope" (the DSSE envelope's
// JSON) and then "binary".
func (s *Service) uploadRelease(r *http.Request, p api.Principal) (any, error) {
	const usage = `body must be multipart/form-data with the parts "envelope" (the DSSE envelope, molen release sign) and then "binary"`
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, api.BadRequest("%s", usage)
	}
	var env *sign.Envelope
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, api.BadRequest("%s: %v", usage, err)
		}
		switch part.FormName() {
		case "envelope":
			b, err := io.ReadAll(io.LimitReader(part, 64<<10))
			if err != nil {
				return nil, api.BadRequest("envelope: %v", err)
			}
			e, err := sign.Parse(b)
			if err != nil {
				s.releasesRefused.Inc()
				return nil, api.BadRequest("envelope: %v", err)
			}
			env = &e
		case "binary":
			if env == nil {
				return nil, api.BadRequest("%s", usage)
			}
			by := p.User
			if by == "" {
				by = p.Token
			}
			rel, err := s.AddRelease(r.Context(), *env, part, by)
			if err != nil {
				return nil, err
			}
			return api.Created(rel), nil
		}
	}
	return nil, api.BadRequest("%s", usage)
}

func (s *Service) listReleases(r *http.Request, _ api.Principal) (any, error) {
	rels, err := s.Releases(r.Context())
	if err != nil {
		return nil, err
	}
	return map[string]any{"releases": rels}, nil
}

func (s *Service) downloadRelease(w http.ResponseWriter, r *http.Request, _ api.Principal) error {
	f, rel, err := s.openRelease(r.Context(), r.PathValue("sha256"))
	if err != nil {
		return err
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="molen-%s-%s-%s"`, rel.Version, rel.OS, rel.Arch))
	http.ServeContent(w, r, "", rel.Uploaded, f)
	return nil
}
