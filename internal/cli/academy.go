//go:build !edgeonly

package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/molen-io/molen/internal/programme"
)

func newAcademy(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "academy",
		Short: "Work with the academy's credentials",
	}
	var keyFiles []string
	verify := &cobra.Command{
		Use:   "verify <file>",
		Short: "Verify academy credentials offline, with the issuing hubs' public keys",
		Long: `Verify a credential a hub issued for a completed course (a .jwt file: an
Open Badges 3.0 OpenBadgeCredential secured as vc+jwt, EdDSA), or every
credential in a skills passport (the JSON a person exports), against the
issuers' public keys: JWKS files saved from
  <hub>/api/v1/academy/issuers/<hub ID>/jwks.json
No network is used: the credential and the keys are all it needs. A changed
credential, or one signed by a key not given, fails with exit status 1.

  molen academy verify --keys edih-noord.jwks.json course.jwt
  molen academy verify --keys noord.json --keys zuid.json passport.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(keyFiles) == 0 {
				return errors.New("--keys: at least one JWKS file of an issuing hub")
			}
			var keys programme.JWKS
			for _, f := range keyFiles {
				b, err := os.ReadFile(f)
				if err != nil {
					return fmt.Errorf("--keys: %w", err)
				}
				var ks programme.JWKS
				if err := json.Unmarshal(b, &ks); err != nil || len(ks.Keys) == 0 {
					return fmt.Errorf("--keys %s: not a JWKS ({\"keys\": [...]})", f)
				}
				keys.Keys = append(keys.Keys, ks.Keys...)
			}
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			creds := []string{strings.TrimSpace(string(b))}
			var pp programme.Passport
			if strings.HasPrefix(creds[0], "{") {
				if err := json.Unmarshal(b, &pp); err != nil || pp.Completions == nil {
					return fmt.Errorf("%s: neither a credential nor a skills passport", args[0])
				}
				creds = creds[:0]
				for _, c := range pp.Completions {
					creds = append(creds, c.Credential)
				}
			}
			bad := 0
			for i, c := range creds {
				v, err := programme.Verify([]byte(c), keys)
				if err != nil {
					bad++
					fmt.Fprintf(g.stdout, "INVALID  %d  %v\n", i+1, err)
					continue
				}
				fmt.Fprintf(g.stdout, "valid    %d  %q issued by %s (%s) on %s\n", i+1, v.Name, v.IssuerName, v.Issuer, v.ValidFrom)
			}
			if bad > 0 {
				return fmt.Errorf("%d of %d credentials are not valid", bad, len(creds))
			}
			fmt.Fprintf(g.stdout, "%d credentials verified\n", len(creds))
			return nil
		},
	}
	verify.Flags().StringArrayVar(&keyFiles, "keys", nil, "a JWKS file of an issuing hub (repeat for several hubs)")
	cmd.AddCommand(verify)
	return cmd
}
