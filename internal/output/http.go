package output

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// HTTP is the part of the config the HTTP outputs (influx, remote_write)
// share.
type HTTP struct {
	// URL is the receiver's address (http:// or https://).
	URL string `yaml:"url"`
	// Headers are sent with every request (an Authorization, a tenant
	// header). Their values are never logged nor shown in the status.
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds one request. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
}

func (h *HTTP) check() []error {
	var errs []error
	switch u, err := url.Parse(h.URL); {
	case h.URL == "":
		errs = append(errs, fmt.Errorf("url: required (http://host:port/…)"))
	case err != nil:
		errs = append(errs, fmt.Errorf("url: does not parse"))
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		errs = append(errs, fmt.Errorf("url: want http:// or https:// and a host"))
	case u.User != nil:
		errs = append(errs, fmt.Errorf("url: put credentials in token or headers, not in the URL"))
	}
	if h.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: must not be negative, got %s", h.Timeout))
	}
	return errs
}

// poster sends request bodies to an HTTP receiver.
type poster struct {
	url     string // with its query
	target  string // for the status: without query
	headers http.Header
	client  *http.Client
}

func newPoster(h *HTTP, rawURL string, headers http.Header) *poster {
	timeout := h.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	for k, v := range h.Headers {
		headers.Set(k, v)
	}
	target := h.URL
	if u, err := url.Parse(h.URL); err == nil {
		u.RawQuery = ""
		target = u.String()
	}
	return &poster{url: rawURL, target: target, headers: headers, client: &http.Client{Timeout: timeout}}
}

// post sends body; a 2xx is success, a 400, 413 or 422 wraps ErrRefused
// (the body itself is wrong, or too large), anything else is retried.
func (p *poster) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = p.headers.Clone()
	resp, err := p.client.Do(req)
	if err != nil {
		// The error names the URL with its query, which holds no secret:
		// tokens go in headers.
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusBadRequest, resp.StatusCode == http.StatusRequestEntityTooLarge,
		resp.StatusCode == http.StatusUnprocessableEntity:
		return fmt.Errorf("%w: %s: %s", ErrRefused, resp.Status, bytes.TrimSpace(msg))
	}
	return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
}
