// Package sink receives notifications in-process: an SMTP server (a real
// one, github.com/emersion/go-smtp) and a webhook receiver that checks
// signatures, keeping what they receive. The demo shows molen's
// notifications with them when no mail server or webhook is configured,
// and the tests send to them.
package sink

import (
	"bytes"
	"io"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/molen-io/molen/internal/notify"
)

// Mail is one message the SMTP sink received.
type Mail struct {
	From string
	To   []string
	Data []byte // the whole message, headers and body
}

// Read parses the message: its header, and its text decoded from the
// quoted-printable transfer encoding molen's e-mails use.
func (m Mail) Read() (*mail.Message, string, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return nil, "", err
	}
	text, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		return nil, "", err
	}
	return msg, string(text), nil
}

// SMTP is an SMTP server on a loopback port that keeps what it receives.
type SMTP struct {
	srv *smtp.Server
	ln  net.Listener
	// C gets each message as it arrives (when nobody reads it, the
	// message is only kept).
	C chan Mail

	mu   sync.Mutex
	msgs []Mail
}

// StartSMTP starts an SMTP sink on addr ("127.0.0.1:0" for any port).
func StartSMTP(addr string) (*SMTP, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &SMTP{ln: ln, C: make(chan Mail, 100)}
	s.srv = smtp.NewServer(backend{s})
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = time.Minute, time.Minute
	s.srv.MaxMessageBytes = 1 << 20
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the sink's host:port.
func (s *SMTP) Addr() string { return s.ln.Addr().String() }

// Messages returns what the sink received so far.
func (s *SMTP) Messages() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.msgs...)
}

// Close stops the server.
func (s *SMTP) Close() error { return s.srv.Close() }

type backend struct{ s *SMTP }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s *SMTP
	m Mail
}

func (x *session) Reset()        { x.m = Mail{} }
func (x *session) Logout() error { return nil }
func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.m.From = from
	return nil
}
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.m.To = append(x.m.To, to)
	return nil
}
func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := x.m
	m.Data = b
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, m)
	x.s.mu.Unlock()
	select {
	case x.s.C <- m:
	default:
	}
	return nil
}

// Hook is one request the webhook sink received.
type Hook struct {
	Path     string
	Delivery string
	Body     []byte
	Verified bool // the signature matched the sink's key
}

// Webhook is an HTTP handler that receives webhooks, checks their
// signature with its key and keeps them.
type Webhook struct {
	C chan Hook // as SMTP.C

	mu   sync.Mutex
	key  string
	hook []Hook
}

// NewWebhook returns a receiver checking signatures with key.
func NewWebhook(key string) *Webhook { return &Webhook{key: key, C: make(chan Hook, 100)} }

// SetKey sets the key signatures are checked with.
func (w *Webhook) SetKey(key string) {
	w.mu.Lock()
	w.key = key
	w.mu.Unlock()
}

// ServeHTTP receives one webhook.
func (w *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	h := Hook{Path: r.URL.Path, Delivery: r.Header.Get(notify.HeaderDelivery), Body: bytes.Clone(body)}
	w.mu.Lock()
	h.Verified = notify.Verify(w.key, r.Header.Get(notify.HeaderSignature), r.Header.Get(notify.HeaderTimestamp), body, time.Now(), 5*time.Minute) == nil
	w.hook = append(w.hook, h)
	w.mu.Unlock()
	select {
	case w.C <- h:
	default:
	}
	rw.WriteHeader(http.StatusNoContent)
}

// Hooks returns what the receiver accepted so far.
func (w *Webhook) Hooks() []Hook {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Hook(nil), w.hook...)
}
