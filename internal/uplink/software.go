package uplink

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/molen-io/molen/internal/sign"
)

// ReleasePredicate is the predicate type of a molen release's signed
// statement (docs/adr/0020-release-signatures.md).
const ReleasePredicate = "https://molen.io/release/v1"

// Release is what a release's signed statement says of its binary,
// besides its sha256: the version, and the platform it runs on.
type Release struct {
	Version string `json:"version"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
}

// SignRelease signs the release statement about the binary in file (its
// sha256, and rel) with a release key: the envelope the hub's release
// upload takes (molen release sign, molen-release --key).
func SignRelease(key ed25519.PrivateKey, file string, rel Release) (sign.Envelope, error) {
	sum, err := FileSHA256(file)
	if err != nil {
		return sign.Envelope{}, err
	}
	return sign.SignStatement(key, "molen", sum, ReleasePredicate, rel)
}

// FileSHA256 is the hex SHA-256 of the file at path.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SumsPayloadType is the DSSE payload type of a signed SHA256SUMS.
const SumsPayloadType = "text/plain; charset=utf-8; molen=SHA256SUMS"

// SignSums signs the content of a SHA256SUMS file with a release key: a
// DSSE envelope (internal/sign) that VerifySums checks.
func SignSums(key ed25519.PrivateKey, sums []byte) sign.Envelope {
	return sign.Sign(key, SumsPayloadType, sums)
}

// VerifySums checks a signed SHA256SUMS against trusted release keys and
// returns the checksums it holds and the signer's key ID.
func VerifySums(env sign.Envelope, trusted []ed25519.PublicKey) ([]byte, string, error) {
	if env.PayloadType != SumsPayloadType {
		return nil, "", fmt.Errorf("not a signed SHA256SUMS: payload type %q", env.PayloadType)
	}
	signer, err := sign.Verify(env, trusted)
	if err != nil {
		return nil, "", err
	}
	return env.Payload, signer, nil
}

// Software is the content of a software part ("software/molen"): the
// version the edge should run, resolved by the hub for the edge's OS and
// architecture to one release. Error says why it could not be (no such
// release for the edge's platform, no report yet); the edge then keeps
// what it runs and reports the part failed.
type Software struct {
	Version string `json:"version"`
	OS      string `json:"os,omitempty"`
	Arch    string `json:"arch,omitempty"`
	// URL is the hub's path of the binary (GET, with the edge's identity).
	URL    string `json:"url,omitempty"`
	SHA256 string `json:"sha256,omitempty"` // hex
	Size   int64  `json:"size,omitempty"`
	// Envelope is the release's DSSE envelope: an in-toto statement of
	// ReleasePredicate about the binary, signed by a release key.
	Envelope *sign.Envelope `json:"envelope,omitempty"`
	Error    string         `json:"error,omitempty"`
}

// SoftwareState is the edge's account of software updates in its report.
type SoftwareState struct {
	Running string `json:"running"`           // the version running
	Wanted  string `json:"wanted,omitempty"`  // the version of the software part
	State   string `json:"state,omitempty"`   // a part state: installing, installed, failed
	Error   string `json:"error,omitempty"`   // why the wanted version does not run
	Trial   bool   `json:"trial,omitempty"`   // the running version is on trial
	Managed bool   `json:"managed"`           // the edge runs under its launcher (molen edge --supervise)
	Refused int64  `json:"refused,omitempty"` // binaries refused (digest, signature) since the edge started
	// RolledBack counts the versions the launcher returned from.
	RolledBack int64 `json:"rolled_back,omitempty"`
}

// ParseSoftware decodes a software part's content.
func ParseSoftware(content []byte) (Software, error) {
	var s Software
	if err := json.Unmarshal(content, &s); err != nil || s.Version == "" {
		return s, fmt.Errorf("%w: software part: want {\"version\": …}", ErrManifest)
	}
	return s, nil
}

// Download fetches a release's binary from the hub (the path of
// Software.URL) into w, at most limit bytes, and returns its sha256 in
// hex.
func (c *Client) Download(ctx context.Context, path string, w io.Writer, limit int64) (string, error) {
	if !strings.HasPrefix(path, "/api/v1/edge/releases/") && !strings.HasPrefix(path, ServicePath) {
		return "", fmt.Errorf("download %s: not a release or service package path of the hub", path)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base()+path, nil)
	if err != nil {
		return "", fmt.Errorf("download request: %w", err)
	}
	c.authorize(req, nil)
	resp, err := c.roundTrip(req)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return "", fmt.Errorf("download %s: %w", path, &StatusError{Code: resp.StatusCode, Msg: errorText(data)})
	}
	var h hash.Hash = sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return "", fmt.Errorf("download %s: %w", path, err)
	}
	if n > limit {
		return "", fmt.Errorf("download %s: larger than %d bytes", path, limit)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
