package edge

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/molen-io/molen/internal/atomicfile"
	"github.com/molen-io/molen/internal/sign"
	"github.com/molen-io/molen/internal/uplink"
)

// Software updates (docs/fleet.md#software-update,
// docs/adr/0021-edge-software-trial.md). The edge's launcher (molen edge
// --supervise, Supervise) runs the edge as its child; the child stages a
// new binary in SoftwareDir and asks for a restart; the launcher starts
// it on trial and keeps it only if it confirms (it reported to the hub)
// within the trial time. SoftwareDir/state.json is written by the child
// only while it stages (the launcher waits for it then), and otherwise by
// the launcher: never by both at once.

// SoftwareDir is the directory, in the edge's data directory, of the
// binaries updates brought and the launcher's state.
const SoftwareDir = "software"

const softwareStateFile = "state.json"

// ExitRestart is the exit status with which an edge that staged an
// update asks its launcher to start it.
const ExitRestart = 75

// The environment a launcher gives its child.
const (
	envLaunched  = "MOLEN_LAUNCHED"   // "1": a launcher runs this edge
	envConfirmFD = "MOLEN_CONFIRM_FD" // the descriptor a binary on trial confirms on
)

// MaxBinary bounds a downloaded binary.
const MaxBinary = 256 << 20

// ErrRefused wraps the reasons a binary is refused for good: its digest,
// its signature, its platform. Another reason (the hub unreachable) is
// tried again at the next poll.
var ErrRefused = errors.New("update refused")

// Binary is one binary of the software directory.
type Binary struct {
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
	File    string `json:"file"` // its name in SoftwareDir
}

// Failure is a version that was refused or went back.
type Failure struct {
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
	Reason  string `json:"reason"`
}

// SoftwareState is SoftwareDir/state.json.
type SoftwareState struct {
	// Current is the binary the launcher starts; nil: the installed one
	// (the launcher's own).
	Current *Binary `json:"current,omitempty"`
	// Previous is what ran before Current; nil: the installed one.
	Previous *Binary `json:"previous,omitempty"`
	// Trial is a binary staged to be tried; Attempts counts its starts.
	// A trial found with Attempts > 0 was started and neither confirmed
	// nor went back (the launcher was killed, the machine lost power):
	// the launcher goes back.
	Trial    *Binary `json:"trial,omitempty"`
	Attempts int     `json:"attempts,omitempty"`
	// Failed are the last versions refused or gone back from, newest
	// last; they are not tried again.
	Failed     []Failure `json:"failed,omitempty"`
	RolledBack int64     `json:"rolled_back,omitempty"`
}

// maxFailures bounds SoftwareState.Failed.
const maxFailures = 16

// LoadSoftwareState reads dir's software state; the zero state if there
// is none.
func LoadSoftwareState(dir string) (SoftwareState, error) {
	var st SoftwareState
	b, err := os.ReadFile(filepath.Join(dir, softwareStateFile))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("software state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("software state %s: %w", filepath.Join(dir, softwareStateFile), err)
	}
	return st, nil
}

func saveSoftwareState(dir string, st SoftwareState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, softwareStateFile), b); err != nil {
		return fmt.Errorf("store software state: %w", err)
	}
	return nil
}

func (st *SoftwareState) fail(f Failure) {
	st.Failed = append(st.Failed, f)
	if len(st.Failed) > maxFailures {
		st.Failed = st.Failed[len(st.Failed)-maxFailures:]
	}
}

// failure returns the failure of a binary, if it failed.
func (st *SoftwareState) failure(sha string) (Failure, bool) {
	i := slices.IndexFunc(st.Failed, func(f Failure) bool { return f.SHA256 == sha })
	if i < 0 {
		return Failure{}, false
	}
	return st.Failed[i], true
}

// software is the edge's side of updates: what the hub wants, what
// became of it.
type software struct {
	mu       sync.Mutex // guards the fields below
	wanted   string     // version of the software part; "": none
	digest   string     // of the software part
	state    string     // a part state of the wanted version
	err      string
	refused  int64
	confirm  *os.File // the launcher's confirmation pipe while on trial; nil otherwise
	launched bool
}

// Restart is closed when the edge staged a software update: its caller
// should close it and exit with ExitRestart, for the launcher to start
// the new version.
func (e *Edge) Restart() <-chan struct{} { return e.restart }

// Launched reports whether this process is an edge a launcher started.
func Launched() bool { return os.Getenv(envLaunched) == "1" }

// startSoftware notes whether a launcher runs the edge, and takes the
// confirmation pipe of a binary on trial.
func (e *Edge) startSoftware() {
	e.sw.launched = Launched()
	if fd, err := strconv.Atoi(os.Getenv(envConfirmFD)); err == nil && fd > 2 {
		closeOnExec(fd) // a process the edge starts cannot hold the trial open
		e.sw.confirm = os.NewFile(uintptr(fd), "confirm")
		e.log.Info("this version is on trial: it is kept once it has reported to the hub", "version", e.cfg.Version)
	}
}

// confirmSoftware tells the launcher that this binary on trial works: it
// reported to the hub. It reports whether it did so now.
func (e *Edge) confirmSoftware() bool {
	e.sw.mu.Lock()
	defer e.sw.mu.Unlock()
	if e.sw.confirm == nil {
		return false
	}
	_, err := e.sw.confirm.WriteString("ok\n")
	if err != nil {
		e.log.Error("cannot confirm this version to the launcher; it will go back to the previous one", "err", err)
	} else {
		e.log.Info("version confirmed to the launcher", "version", e.cfg.Version)
	}
	e.sw.confirm.Close()
	e.sw.confirm = nil
	return err == nil
}

// updateSoftware handles the software part of m (nil: none known): a
// version other than the one running is downloaded, verified and staged
// for the launcher. It returns true when the edge should stop for the
// launcher to start the new version.
func (e *Edge) updateSoftware(ctx context.Context, client *uplink.Client, m *uplink.Manifest) bool {
	sw := &e.sw
	var p uplink.Part
	ok := m != nil && m.Verify() == nil
	if ok {
		p, ok = m.Part(uplink.PartSoftware + "/molen")
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if !ok {
		sw.wanted, sw.digest, sw.state, sw.err = "", "", "", ""
		return false
	}
	set := func(state, err string) {
		sw.state, sw.err = state, err
	}
	want, err := uplink.ParseSoftware(p.Content)
	sw.wanted, sw.digest = want.Version, p.Digest
	dir := filepath.Join(e.cfg.DataDir, SoftwareDir)
	st, stErr := LoadSoftwareState(dir)
	switch {
	case err != nil:
		set(uplink.StateFailed, err.Error())
	case want.Version == e.cfg.Version:
		set(uplink.StateInstalled, "")
	case want.Error != "":
		set(uplink.StateFailed, want.Error)
	case !sw.launched:
		set(uplink.StateFailed, "the edge does not run under its launcher (molen edge --supervise): it cannot update itself")
	case stErr != nil:
		set(uplink.StateFailed, stErr.Error())
	case sw.confirm != nil:
		set(uplink.StateInstalling, "waiting for this version ("+e.cfg.Version+") to leave its trial")
	default:
		if f, failed := st.failure(want.SHA256); failed {
			set(uplink.StateFailed, f.Reason)
			return false
		}
		set(uplink.StateInstalling, "")
		err := e.stageUpdate(ctx, client, dir, want)
		if err == nil {
			e.log.Info("update staged; restarting into it", "version", want.Version)
			return true
		}
		e.log.Error("update not staged", "version", want.Version, "err", err)
		set(uplink.StateFailed, err.Error())
		if errors.Is(err, ErrRefused) {
			sw.refused++
			e.metrics.updatesRefused.Inc()
			st, _ = LoadSoftwareState(dir)
			st.fail(Failure{Version: want.Version, SHA256: want.SHA256, Reason: err.Error()})
			if err := saveSoftwareState(dir, st); err != nil {
				e.log.Error("cannot store the refusal", "err", err)
			}
		}
	}
	return false
}

// releaseKeys are the keys the edge accepts software updates signed with:
// --release-key's, or else those the hub named at the edge's first
// enrollment (kept in its credential, never replaced by what a hub says
// later).
func (e *Edge) releaseKeys() []ed25519.PublicKey {
	if len(e.cfg.ReleaseKeys) > 0 {
		return e.cfg.ReleaseKeys
	}
	e.fwd.mu.Lock()
	pinned := e.fwd.identity.ReleaseKeys
	e.fwd.mu.Unlock()
	return decodeKeys(pinned)
}

// marketKeys are the marketplace keys whose countersigned services the
// edge runs: --market-key's, or else those the hub named at the edge's
// first enrollment (pinned as the release keys are).
func (e *Edge) marketKeys() []ed25519.PublicKey {
	if len(e.cfg.MarketKeys) > 0 {
		return e.cfg.MarketKeys
	}
	e.fwd.mu.Lock()
	pinned := e.fwd.identity.MarketKeys
	e.fwd.mu.Unlock()
	if len(pinned) == 0 {
		// At start the stored manifest loads before the forwarder has
		// loaded the identity.
		if c, ok, err := loadCredential(e.cfg.DataDir); ok && err == nil {
			pinned = c.MarketKeys
		}
	}
	return decodeKeys(pinned)
}

// decodeKeys are the Ed25519 public keys of keys (uplink.EncodeKey),
// leaving out any that is not one.
func decodeKeys(pinned []string) []ed25519.PublicKey {
	var out []ed25519.PublicKey
	for _, s := range pinned {
		if k, err := uplink.DecodePublicKey(s); err == nil {
			out = append(out, k)
		}
	}
	return out
}

// validKeys are the keys of keys (uplink.EncodeKey) that are Ed25519
// public keys: a hub's answer is kept only as far as it makes sense.
func validKeys(keys []string) []string {
	var out []string
	for _, s := range keys {
		if _, err := uplink.DecodePublicKey(s); err == nil {
			out = append(out, s)
		}
	}
	return out
}

// stageUpdate downloads the binary of want, checks its digest and its
// signature by a trusted release key, and makes it the launcher's trial:
// the binary under its own name first (written, synced, renamed), then
// the state naming it. Killed at any point, the launcher finds the
// state before (and perhaps an unnamed file, removed) or after.
func (e *Edge) stageUpdate(ctx context.Context, client *uplink.Client, dir string, want uplink.Software) error {
	switch {
	case want.OS != runtime.GOOS || want.Arch != runtime.GOARCH:
		return fmt.Errorf("%w: the release is for %s/%s, this edge is %s/%s", ErrRefused, want.OS, want.Arch, runtime.GOOS, runtime.GOARCH)
	case want.Envelope == nil:
		return fmt.Errorf("%w: the release has no signature", ErrRefused)
	}
	keys := e.releaseKeys()
	if len(keys) == 0 {
		return fmt.Errorf("%w: this edge trusts no release key (the hub named none when it enrolled; molen edge --release-key)", ErrRefused)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "download-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	sum, err := client.Download(ctx, want.URL, tmp, MaxBinary)
	if err != nil {
		return err
	}
	if sum != want.SHA256 {
		return fmt.Errorf("%w: the binary's sha256 is %s, the manifest says %s", ErrRefused, sum, want.SHA256)
	}
	st, signer, err := sign.VerifyStatement(*want.Envelope, keys, sum, uplink.ReleasePredicate)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	var rel uplink.Release
	if json.Unmarshal(st.Predicate, &rel) != nil || rel.Version != want.Version || rel.OS != runtime.GOOS || rel.Arch != runtime.GOARCH {
		return fmt.Errorf("%w: the signed statement is of %s %s/%s, not of %s %s/%s", ErrRefused, rel.Version, rel.OS, rel.Arch, want.Version, runtime.GOOS, runtime.GOARCH)
	}
	if err := tmp.Chmod(0o755); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	b := Binary{Version: want.Version, SHA256: sum, File: "molen-" + safeName(want.Version) + "-" + sum[:12]}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, b.File)); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return err
	}
	state, err := LoadSoftwareState(dir)
	if err != nil {
		return err
	}
	state.Trial, state.Attempts = &b, 0
	if err := saveSoftwareState(dir, state); err != nil {
		return err
	}
	e.log.Info("update verified", "version", want.Version, "sha256", sum, "signer", signer)
	return nil
}

// safeName keeps the characters of a version that are safe in a file
// name.
func safeName(v string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_', r == '+':
			return r
		}
		return '_'
	}, v)
}

// softwareState is the report's account of updates.
func (e *Edge) softwareState() *uplink.SoftwareState {
	sw := &e.sw
	sw.mu.Lock()
	defer sw.mu.Unlock()
	out := &uplink.SoftwareState{Running: e.cfg.Version, Wanted: sw.wanted, State: sw.state, Error: sw.err,
		Trial: sw.confirm != nil, Managed: sw.launched, Refused: sw.refused}
	if st, err := LoadSoftwareState(filepath.Join(e.cfg.DataDir, SoftwareDir)); err == nil {
		out.RolledBack = st.RolledBack
	}
	return out
}

// softwarePart overrides the state of the software part in parts with
// what became of it.
func (e *Edge) softwarePart(parts []uplink.PartState) {
	sw := &e.sw
	sw.mu.Lock()
	defer sw.mu.Unlock()
	for i := range parts {
		if parts[i].Name == uplink.PartSoftware+"/molen" && sw.state != "" && parts[i].Digest == sw.digest {
			parts[i].State, parts[i].Error = sw.state, sw.err
		}
	}
}
