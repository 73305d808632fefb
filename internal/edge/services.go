package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/molen-io/molen/internal/svcpack"
	"github.com/molen-io/molen/internal/uplink"
)

// servicesDir is where, in the data directory, the edge keeps the
// service packages installed from the hub: the archives as downloaded
// (<sha256>.molen), unpacked (<sha256>/) and the installs' state files
// (state/<install>.state).
const servicesDir = "services"

// errNotDownloaded: a service part's package is not on the edge yet (its
// download failed or has not happened); the manifest waits for it.
var errNotDownloaded = errors.New("package not downloaded")

// fetchServices downloads the package archive of every service part of m
// that the edge does not have, with the edge's own identity, keeping it
// only when its sha256 is the one the part names. What fails is left to
// configOf, which refuses the manifest naming it.
func (e *Edge) fetchServices(ctx context.Context, client *uplink.Client, m *uplink.Manifest) {
	if m == nil {
		return
	}
	dir := filepath.Join(e.cfg.DataDir, servicesDir)
	for _, p := range m.Parts {
		if p.Kind != uplink.PartService {
			continue
		}
		var si uplink.ServiceInstall
		if err := json.Unmarshal(p.Content, &si); err != nil || !validSHA(si.SHA256) {
			continue // configOf says what is wrong
		}
		file := filepath.Join(dir, si.SHA256+svcpack.Ext)
		if _, err := os.Stat(file); err == nil {
			continue
		}
		err := e.downloadService(ctx, client, dir, file, si)
		e.svcMu.Lock()
		if err != nil {
			e.svcErr[si.SHA256] = err.Error()
			e.log.Warn("cannot download a service package", "part", p.Name, "sha256", si.SHA256, "err", err)
		} else {
			delete(e.svcErr, si.SHA256)
		}
		e.svcMu.Unlock()
	}
}

func (e *Edge) downloadService(ctx context.Context, client *uplink.Client, dir, file string, si uplink.ServiceInstall) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "download-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	sum, err := client.Download(ctx, uplink.ServicePath+si.SHA256, tmp, svcpack.MaxArchive)
	if err != nil {
		return err
	}
	if sum != si.SHA256 {
		e.metrics.serviceRefused.Inc()
		return fmt.Errorf("%w: downloaded sha256 %s, want %s", svcpack.ErrTrust, sum, si.SHA256)
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

func validSHA(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// servicePipeline makes the pipeline of a service part: its package is
// verified (the digest, the platform's countersignature and the
// provider's signature: svcpack.Verify) each time a manifest is loaded,
// before anything of it runs, and unpacked once.
func (e *Edge) servicePipeline(p uplink.Part, secrets map[string]string) ([]byte, error) {
	_, name := uplink.SplitPartName(p.Name)
	var si uplink.ServiceInstall
	if err := json.Unmarshal(p.Content, &si); err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	if !validSHA(si.SHA256) {
		return nil, fmt.Errorf("%s: sha256: want 64 hex digits", p.Name)
	}
	marketKeys := e.marketKeys()
	if len(marketKeys) == 0 {
		return nil, fmt.Errorf("%s: this edge trusts no marketplace key (none learned at enrollment, no --market-key): it runs no installed service", p.Name)
	}
	dir := filepath.Join(e.cfg.DataDir, servicesDir)
	archive, err := os.ReadFile(filepath.Join(dir, si.SHA256+svcpack.Ext))
	if errors.Is(err, os.ErrNotExist) {
		e.svcMu.Lock()
		why := e.svcErr[si.SHA256]
		e.svcMu.Unlock()
		if why == "" {
			why = "not downloaded yet"
		}
		return nil, fmt.Errorf("%s: package %s %s: %w: %s", p.Name, si.ID, si.Version, errNotDownloaded, why)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	if _, err := svcpack.Verify(archive, si.SHA256, si.Signature, si.Release, marketKeys); err != nil {
		e.metrics.serviceRefused.Inc()
		// A package that fails is not kept: the next fetch downloads it
		// again.
		_ = os.Remove(filepath.Join(dir, si.SHA256+svcpack.Ext))
		return nil, fmt.Errorf("%s: package %s %s: %w", p.Name, si.ID, si.Version, err)
	}
	pkgDir := filepath.Join(dir, si.SHA256)
	if _, err := os.Stat(filepath.Join(pkgDir, "margo.yaml")); err != nil {
		tmp, err := os.MkdirTemp(dir, "unpack-*")
		if err != nil {
			return nil, err
		}
		if _, err := svcpack.Unpack(archive, tmp); err != nil {
			os.RemoveAll(tmp)
			return nil, fmt.Errorf("%s: %w", p.Name, err)
		}
		os.RemoveAll(pkgDir)
		if err := os.Rename(tmp, pkgDir); err != nil {
			os.RemoveAll(tmp)
			return nil, fmt.Errorf("%s: %w", p.Name, err)
		}
	}
	params, err := uplink.ResolveSecrets(si.Params, secrets)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "state"), 0o700); err != nil {
		return nil, err
	}
	stage := map[string]any{"package": pkgDir, "params": json.RawMessage(params), "state": filepath.Join(dir, "state", name+".state")}
	return json.Marshal(map[string]any{"match": si.Match, "output": si.Output, "stages": []any{map[string]any{"service": stage}}})
}
