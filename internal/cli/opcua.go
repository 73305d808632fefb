package cli

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/molen-io/molen/internal/connector/opcua"
)

func newOPCUA(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "opcua",
		Short: "OPC UA tools for the edge's opcua inputs",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newOPCUACert(g))
	return cmd
}

func newOPCUACert(g *globals) *cobra.Command {
	host, _ := os.Hostname()
	var (
		uri     string
		out     string
		hosts   []string
		days    int
		replace bool
	)
	cmd := &cobra.Command{
		Use:   "cert [--uri URI] [--out DIR]",
		Short: "Create the edge's OPC UA certificate and key, and a PKI directory for pki_dir",
		Long: `Create the edge's OPC UA application instance certificate (self-signed,
RSA 2048, SHA-256) and its key, for opcua inputs with security_mode Sign or
SignAndEncrypt, in a PKI directory:

  DIR/edge-cert.pem   the certificate (the input's certificate)
  DIR/edge-cert.der   the same in DER: copy it to the server
  DIR/edge-key.pem    its private key, readable by its owner only
  DIR/trusted/        server certificates the edge trusts
  DIR/rejected/       server certificates the edge was offered and does not
                      trust yet (it saves them there)

An opcua input with pki_dir: DIR uses all of these without further settings.
The certificate carries --uri as its application URI (OPC UA servers check
that a client's certificate holds the URI the client announces; the input
announces this one) and --host as DNS names or IP addresses. It is valid
from a day before now, so that a server whose clock is behind accepts it.

An existing key is not replaced without --replace: a new certificate has a
new thumbprint, which every server that trusted the old one must trust anew.

See docs/connectors.md (opcua, Security) for what to do on the server.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if days < 1 {
				return fmt.Errorf("--days %d: must be at least 1", days)
			}
			der, key, err := opcua.NewCertificate(uri, hosts, time.Duration(days)*24*time.Hour, time.Now())
			if err != nil {
				return err
			}
			if err := opcua.WriteCredentials(out, der, key, replace); errors.Is(err, opcua.ErrExists) {
				return fmt.Errorf("%w; --replace makes a new one", err)
			} else if err != nil {
				return fmt.Errorf("write the certificate: %w", err)
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return err
			}
			abs, err := filepath.Abs(out)
			if err != nil {
				abs = out
			}
			w := g.stdout
			fmt.Fprintf(w, "Created the edge's OPC UA certificate in %s:\n", abs)
			fmt.Fprintf(w, "  certificate       %s (and %s, the same in DER)\n", filepath.Join(abs, opcua.CertFile), opcua.CertDERFile)
			fmt.Fprintf(w, "  private key       %s\n", filepath.Join(abs, opcua.KeyFile))
			fmt.Fprintf(w, "  subject           %s\n", c.Subject)
			fmt.Fprintf(w, "  application URI   %s\n", uri)
			fmt.Fprintf(w, "  valid             %s to %s\n", c.NotBefore.UTC().Format(time.DateOnly), c.NotAfter.UTC().Format(time.DateOnly))
			fmt.Fprintf(w, "  SHA-1 thumbprint  %s\n", opcua.Thumbprint(der))
			fmt.Fprintf(w, `
Next:
  1. Make the server trust the edge: copy %s
     into the server's trusted client certificates (for many servers
     pki/trusted/certs/), or let the edge try to connect once and accept
     its certificate (the thumbprint above) in the server's configuration,
     where the server lists it as rejected.
  2. Set the opcua input:
       security_mode: SignAndEncrypt
       pki_dir: %s
  3. On its first attempt the edge saves the server's certificate in
     %s and does not connect. Compare its
     thumbprint (in the input's status and the edge's log) with the one the
     server shows, then move the file to %s.
`, filepath.Join(abs, opcua.CertDERFile), abs, filepath.Join(abs, opcua.RejectedDir)+string(filepath.Separator), filepath.Join(abs, opcua.TrustedDir)+string(filepath.Separator))
			return nil
		},
	}
	defaultURI := "urn:" + host + ":molen:edge"
	if host == "" {
		defaultURI = "urn:molen:edge"
	}
	cmd.Flags().StringVar(&uri, "uri", defaultURI, "the application URI of the edge, as the server expects it (the certificate's URI)")
	cmd.Flags().StringVar(&out, "out", "/etc/molen/opcua", "the PKI directory to write (the input's pki_dir)")
	cmd.Flags().StringSliceVar(&hosts, "host", []string{host}, "host names or IP addresses of the edge in the certificate (repeat or comma-separate)")
	cmd.Flags().IntVar(&days, "days", int(opcua.CertificateValidity/(24*time.Hour)), "days the certificate is valid")
	cmd.Flags().BoolVar(&replace, "replace", false, "replace an existing certificate and key")
	return cmd
}
