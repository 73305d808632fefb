package series

import (
	"encoding/json"
	"net/http"

	"github.com/molen-io/molen/internal/api"
	"github.com/molen-io/molen/internal/audit"
	"github.com/molen-io/molen/internal/uns"
)

// Series administration: admins delete, rename and merge their
// organisation's series; each change is recorded in the audit log.

// record tells Changed of a change of the caller's series and appends an
// audit entry of the request.
func (s *Service) record(r *http.Request, p api.Principal, action, target string, detail map[string]string) error {
	if s.changed != nil {
		s.changed(p.Org)
	}
	if s.aud == nil {
		return nil
	}
	_, err := s.aud.Record(r.Context(), audit.RequestEntry(r, p, action, target, detail))
	return err
}

// pathPair reads {"from": …, <second>: …}, both series paths.
func pathPair(r *http.Request, second string) (from, to string, err error) {
	var req map[string]string
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&req); err != nil || len(req) != 2 || req["from"] == "" || req[second] == "" {
		return "", "", api.BadRequest(`body must be {"from": "<series>", %q: "<series>"}`, second)
	}
	from, to = req["from"], req[second]
	for _, p := range []string{from, to} {
		if err := uns.ValidatePath(p); err != nil {
			return "", "", api.BadRequest("series %q: %v", p, err)
		}
	}
	if from == to {
		return "", "", api.BadRequest("from and %s are one series", second)
	}
	return from, to, nil
}

func (s *Service) deleteSeries(r *http.Request, p api.Principal) (any, error) {
	path := r.URL.Query().Get("path")
	if err := uns.ValidatePath(path); err != nil {
		return nil, api.BadRequest("path: %v", err)
	}
	if err := s.st.DeleteSeries(r.Context(), p.Org, path); err != nil {
		return nil, err
	}
	return map[string]any{"deleted": path}, s.record(r, p, "series.deleted", path, nil)
}

func (s *Service) renameSeries(r *http.Request, p api.Principal) (any, error) {
	from, to, err := pathPair(r, "to")
	if err != nil {
		return nil, err
	}
	if err := s.st.RenameSeries(r.Context(), p.Org, from, to); err != nil {
		return nil, err
	}
	return map[string]any{"from": from, "to": to}, s.record(r, p, "series.renamed", from, map[string]string{"to": to})
}

func (s *Service) mergeSeries(r *http.Request, p api.Principal) (any, error) {
	from, into, err := pathPair(r, "into")
	if err != nil {
		return nil, err
	}
	if err := s.st.MergeSeries(r.Context(), p.Org, from, into); err != nil {
		return nil, err
	}
	return map[string]any{"from": from, "into": into}, s.record(r, p, "series.merged", from, map[string]string{"into": into})
}
