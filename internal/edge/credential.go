package edge

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// credential is what an enrolled edge keeps: its identity at the hub and the
// secret it authenticates with. The file is 0600 and never logged.
type credential struct {
	Hub        string `json:"hub"`
	EdgeID     string `json:"edge_id"`
	Org        string `json:"org"`
	Name       string `json:"name"`
	Credential string `json:"credential"`
	// Pending marks a credential proposed to the hub and not yet
	// confirmed; TokenHash is the hash of the token it was proposed with.
	Pending   bool   `json:"pending,omitempty"`
	TokenHash string `json:"token_hash,omitempty"`
}

const credentialFile = "credential.json"

// loadCredential returns the stored credential; ok is false if there is none.
func loadCredential(dir string) (c credential, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, credentialFile))
	if errors.Is(err, os.ErrNotExist) {
		return credential{}, false, nil
	}
	if err != nil {
		return credential{}, false, fmt.Errorf("read credential: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Credential == "" {
		return credential{}, false, fmt.Errorf("credential file %s is damaged; remove it and enroll again", filepath.Join(dir, credentialFile))
	}
	return c, true, nil
}

// saveCredential writes c atomically (temp file, fsync, rename).
func saveCredential(dir string, c credential) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, credentialFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write credential: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write credential: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write credential: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write credential: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, credentialFile)); err != nil {
		return fmt.Errorf("write credential: %w", err)
	}
	return nil
}
