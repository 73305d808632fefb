package uplink

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Tracer is the tracer of the uplink's spans: the global provider's, which
// does nothing unless internal/tracing installed one. The API alone is
// linked here; the SDK and exporter only where a command sets them up.
func Tracer() trace.Tracer { return otel.Tracer("github.com/molen-io/molen") }

// ContentType is the media type of an encoded Batch.
const ContentType = "application/vnd.molen.batch"

// The hub's refusals, as the protocol defines them (docs/api.md): the hub
// answers a batch that fails with one of these with its status code, and
// the Client turns the code back into the sentinel, so that the edge acts
// on sentinels, never on status codes.
var (
	// ErrUnauthorized means the hub refused the edge's credential (401):
	// it is wrong, or the edge was revoked. Retrying does not help until
	// an operator acts; the edge keeps its buffer meanwhile.
	ErrUnauthorized = errors.New("hub refused the edge credential (401)")
	// ErrTooLarge means a batch exceeds MaxBatchBytes or MaxBatchPoints
	// (413).
	ErrTooLarge = errors.New("uplink batch too large")
	// ErrInvalidRecord means a record's content is refused (it decodes to
	// points the hub cannot store); the rest of the batch is not stored
	// either (422). An edge that sends records one by one learns which.
	ErrInvalidRecord = errors.New("invalid record")
	// ErrBusy means the hub is storing its maximum of concurrent uplinks;
	// retry shortly (503).
	ErrBusy = errors.New("hub busy: too many uplinks at once, retry shortly")
)

// StatusError is a non-2xx answer from the hub other than 401. It wraps
// the sentinel of its code: ErrMalformed (400), ErrTooLarge (413),
// ErrInvalidRecord (422), ErrBusy (503), or nothing for another code.
type StatusError struct {
	Code int
	Msg  string
}

func (e *StatusError) Error() string { return fmt.Sprintf("hub answered %d: %s", e.Code, e.Msg) }

// Unwrap returns the sentinel of e's code, or nil.
func (e *StatusError) Unwrap() error {
	switch e.Code {
	case http.StatusBadRequest:
		return ErrMalformed
	case http.StatusRequestEntityTooLarge:
		return ErrTooLarge
	case http.StatusUnprocessableEntity:
		return ErrInvalidRecord
	case http.StatusServiceUnavailable:
		return ErrBusy
	}
	return nil
}

// Ack is the hub's answer to a stored batch.
type Ack struct {
	Stored    int    `json:"stored"`    // records stored now (the rest were duplicates)
	Watermark uint64 `json:"watermark"` // highest sequence stored for the stream
	// Previous is the highest sequence stored for the stream before this
	// batch: it tells the edge whether records it no longer holds (a
	// buffer bound dropped them while an earlier attempt was on its way)
	// reached the hub. 0 from hubs that do not say.
	Previous uint64 `json:"previous"`
	// RefusedSeries and RefusedPoints count the points of the stored
	// records that the organisation's quota refused: of series beyond its
	// series quota, and beyond its quota of points per day. The batch is
	// stored all the same: they are dropped, not sent again.
	RefusedSeries int `json:"refused_series,omitempty"`
	RefusedPoints int `json:"refused_points,omitempty"`
}

// Enrollment is what an edge receives for a one-time enrollment token.
// An edge that enrolled with a public key gets no credential: its key is
// its identity.
type Enrollment struct {
	EdgeID     string `json:"edge_id"`
	Org        string `json:"org"`
	Name       string `json:"name"`
	Credential string `json:"credential,omitempty"`
	// ReleaseKeys are the hub's release-signing public keys (EncodeKey),
	// which the edge keeps from its first enrollment on: the keys its
	// software updates must be signed with (docs/fleet.md#software-update).
	ReleaseKeys []string `json:"release_keys,omitempty"`
	// MarketKeys are the platform's marketplace public keys (EncodeKey),
	// which the edge keeps from its first enrollment on: a service
	// installed from the hub runs only when one of them countersigned its
	// version (docs/services.md#trust).
	MarketKeys []string `json:"market_keys,omitempty"`
}

// KeyChange is the body of POST /api/v1/edge/key: the edge's new public
// key and its proof (the new key's signature of KeyProof).
type KeyChange struct {
	PublicKey string `json:"public_key"`
	Proof     string `json:"proof"`
}

// Client sends batches to a hub. The zero HTTP uses http.DefaultClient.
type Client struct {
	// URL is the hub's base URL, e.g. http://hub:8080, or several
	// separated by commas: replicas of a hub cluster (docs/cluster.md).
	// After a request gets no answer or 503 from one, the next request
	// goes to the next.
	URL string
	// Signer returns the key that signs each request (signed requests,
	// docs/api.md); nil, or a nil *Signer, sends Credential as a bearer
	// token instead (edges enrolled before edge keys). A function, so
	// that a key change takes effect at the next request.
	Signer     func() *Signer
	Credential string
	HTTP       *http.Client
	Now        func() time.Time // the clock of signatures; nil: time.Now

	enc *zstd.Encoder
	buf []byte
	cur atomic.Uint32 // index of the address in URL that requests go to
}

// HubURLs splits a list of a hub's addresses (comma-separated) into its
// base URLs.
func HubURLs(list string) []string {
	var out []string
	for u := range strings.SplitSeq(list, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// base is the address requests go to now, without a trailing slash.
func (c *Client) base() string {
	urls := HubURLs(c.URL)
	if len(urls) == 0 {
		return ""
	}
	return strings.TrimSuffix(urls[int(c.cur.Load())%len(urls)], "/")
}

// Base is the hub address the next request goes to.
func (c *Client) Base() string { return c.base() }

// failover moves to the next of the hub's addresses after a request to
// target got no answer (unless another request moved on already).
func (c *Client) failover(target string) {
	if urls := HubURLs(c.URL); len(urls) > 1 {
		i := c.cur.Load()
		if strings.HasPrefix(target, strings.TrimSuffix(urls[int(i)%len(urls)], "/")+"/") {
			c.cur.CompareAndSwap(i, i+1)
		}
	}
}

// roundTrip sends req, moving to the hub's next address if it gets no
// answer or 503: a replica that cannot reach its cluster's quorum (a NATS
// node cut off) answers 503 for as long as that lasts, while another may
// store at once; when all are busy, moving on costs nothing.
func (c *Client) roundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.http().Do(req)
	if (err != nil && req.Context().Err() == nil) || (err == nil && resp.StatusCode == http.StatusServiceUnavailable) {
		c.failover(req.URL.String())
	}
	return resp, err
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Send posts b and returns the hub's acknowledgement. A nil error means the
// hub stored every record of b (or had them already). Not safe for
// concurrent use.
func (c *Client) Send(ctx context.Context, b Batch) (Ack, error) {
	if c.enc == nil {
		// Lower memory: the encoder's tables sized for a batch (at most
		// MaxBatchBytes), not for streams; 1.8 MB of an edge's heap at
		// 1,000 tags otherwise (docs/adr/0034-edge-footprint.md).
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
		if err != nil {
			return Ack{}, fmt.Errorf("zstd encoder: %w", err)
		}
		c.enc = enc
	}
	// A span of the send when traces are exported (internal/tracing); the
	// hub's receipt and storing become its children through the
	// traceparent header.
	ctx, span := Tracer().Start(ctx, "uplink.send", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("molen.stream", b.Stream), attribute.Int("molen.records", len(b.Records))))
	defer span.End()
	c.buf = EncodeBatch(c.buf[:0], b)
	body := c.enc.EncodeAll(c.buf, nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base()+"/api/v1/uplink", bytes.NewReader(body))
	if err != nil {
		return Ack{}, fmt.Errorf("uplink request: %w", err)
	}
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(req.Header))
	c.authorize(req, body)
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("Content-Encoding", "zstd")
	var ack Ack
	if err := c.do(req, &ack); err != nil {
		span.SetStatus(codes.Error, err.Error())
		return Ack{}, fmt.Errorf("send %d records of %s: %w", len(b.Records), b.Stream, err)
	}
	return ack, nil
}

// authorize signs req (whose content is body) with the Signer's key, or
// sets the bearer credential.
func (c *Client) authorize(req *http.Request, body []byte) {
	var s *Signer
	if c.Signer != nil {
		s = c.Signer()
	}
	if s == nil {
		req.Header.Set("Authorization", "Bearer "+c.Credential)
		return
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	s.Sign(req, body, now())
}

func (c *Client) do(req *http.Request, out any) error {
	resp, err := c.roundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("%w: %s", ErrUnauthorized, errorText(data))
	}
	if resp.StatusCode/100 != 2 {
		return &StatusError{Code: resp.StatusCode, Msg: errorText(data)}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

func errorText(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	if len(body) > 200 {
		body = body[:200]
	}
	return strings.TrimSpace(string(body))
}

// Enroll exchanges a one-time enrollment token for a bearer credential
// (edges without a key, scripts). credential is the one the edge proposes
// (made with secret.New(secret.PrefixCredential) and stored before
// asking, so that asking again after a lost answer succeeds); "" lets the
// hub make one.
func (c *Client) Enroll(ctx context.Context, token, credential string) (Enrollment, error) {
	return c.enroll(ctx, map[string]string{"token": token, "credential": credential}, false)
}

// EnrollKey exchanges a one-time enrollment token for the edge's identity
// at the hub, registering the public key of key (the edge's own, made and
// stored before asking) with the proof that the edge holds it. The hub
// issues no credential: the key is the identity. Asking again after a
// lost answer with the same key is answered with the same enrollment.
func (c *Client) EnrollKey(ctx context.Context, token string, key ed25519.PrivateKey) (Enrollment, error) {
	return c.enroll(ctx, map[string]string{"token": token,
		"public_key": EncodeKey(key.Public().(ed25519.PublicKey)), "proof": EncodeKey(ed25519.Sign(key, EnrollProof(token)))}, true)
}

func (c *Client) enroll(ctx context.Context, in map[string]string, keyed bool) (Enrollment, error) {
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base()+"/api/v1/enroll", bytes.NewReader(body))
	if err != nil {
		return Enrollment{}, fmt.Errorf("enroll request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	var e Enrollment
	if err := c.do(req, &e); err != nil {
		return Enrollment{}, fmt.Errorf("enroll at %s: %w", c.base(), err)
	}
	if e.EdgeID == "" || (e.Credential == "" && !keyed) {
		return Enrollment{}, fmt.Errorf("enroll at %s: answer without identity", c.base())
	}
	return e, nil
}

// RegisterKey has the hub authenticate the edge by key from now on: the
// request is authorised as every other (the current key's signature, or
// the bearer credential of an edge that has no key yet) and carries key's
// proof. The hub keeps accepting the previous key for a short while
// (docs/api.md), so requests already signed with it still go through;
// registering the key the hub has already succeeds, so a change whose
// answer was lost can be confirmed by asking again, signed with the new
// key.
func (c *Client) RegisterKey(ctx context.Context, edgeID string, key ed25519.PrivateKey) error {
	pub := key.Public().(ed25519.PublicKey)
	if err := c.post(ctx, "/api/v1/edge/key", KeyChange{PublicKey: EncodeKey(pub), Proof: EncodeKey(ed25519.Sign(key, KeyProof(edgeID, pub)))}); err != nil {
		return fmt.Errorf("register edge key at %s: %w", c.base(), err)
	}
	return nil
}

// post sends v as JSON to path, authorised (signed), and expects a 2xx
// answer holding a JSON object.
func (c *Client) post(ctx context.Context, path string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base()+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	c.authorize(req, body)
	req.Header.Set("Content-Type", "application/json")
	var out struct{}
	return c.do(req, &out)
}
