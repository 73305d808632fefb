package uplink

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"
)

// PartSecret is the kind of a manifest part holding one secret value,
// encrypted for the edge the manifest is for (docs/security.md): its
// content is SealedSecret.
const PartSecret = "secret"

// SealedSecret is a secret part's content: the value encrypted with age
// to the X25519 key derived from the edge's Ed25519 key (age's ssh-ed25519
// recipient), base64. The part's digest covers this ciphertext.
type SealedSecret struct {
	Sealed string `json:"sealed"`
}

// SealFor encrypts plain so that only the holder of the private key of
// pub (the edge) can open it. Each call gives another ciphertext.
func SealFor(pub ed25519.PublicKey, plain []byte) (string, error) {
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("seal for edge key: %w", err)
	}
	r, err := agessh.NewEd25519Recipient(sshPub)
	if err != nil {
		return "", fmt.Errorf("seal for edge key: %w", err)
	}
	return seal(r, plain)
}

// OpenSealed decrypts what SealFor sealed for key's public key; any other
// key fails.
func OpenSealed(key ed25519.PrivateKey, sealed string) ([]byte, error) {
	id, err := agessh.NewEd25519Identity(key)
	if err != nil {
		return nil, fmt.Errorf("open sealed secret: %w", err)
	}
	return open(id, sealed)
}

// seal encrypts plain to r, base64 of age's binary format.
func seal(r age.Recipient, plain []byte) (string, error) {
	var b bytes.Buffer
	w, err := age.Encrypt(&b, r)
	if err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	if _, err := w.Write(plain); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes()), nil
}

// open decrypts what seal made for id.
func open(id age.Identity, sealed string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return nil, fmt.Errorf("open sealed secret: not base64: %w", err)
	}
	r, err := age.Decrypt(bytes.NewReader(b), id)
	if err != nil {
		return nil, fmt.Errorf("open sealed secret: %w", err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("open sealed secret: %w", err)
	}
	return plain, nil
}

// A Keyring encrypts values at rest with an X25519 key of its own (the
// hub's secrets key): only a holder of the key file reads them.
type Keyring struct{ id *age.X25519Identity }

// NewKeyring makes a keyring with a new random key.
func NewKeyring() (*Keyring, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	return &Keyring{id: id}, nil
}

// ParseKeyring reads a key String wrote ("AGE-SECRET-KEY-1…").
func ParseKeyring(s string) (*Keyring, error) {
	id, err := age.ParseX25519Identity(string(bytes.TrimSpace([]byte(s))))
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	return &Keyring{id: id}, nil
}

// String is the key, to be kept in a file only its owner reads.
func (k *Keyring) String() string { return k.id.String() }

// Seal encrypts plain for the keyring.
func (k *Keyring) Seal(plain []byte) (string, error) { return seal(k.id.Recipient(), plain) }

// Open decrypts what Seal sealed.
func (k *Keyring) Open(sealed string) ([]byte, error) { return open(k.id, sealed) }

// secretRef is a reference to a secret in a part's content: a JSON string
// that is exactly "${secret:<name>}".
var secretRef = regexp.MustCompile(`^\$\{secret:([a-z0-9][a-z0-9._-]{0,62})\}$`)

// SecretRefs returns the names of the secrets content refers to, sorted,
// each once.
func SecretRefs(content []byte) []string {
	var v any
	if json.Unmarshal(content, &v) != nil {
		return nil
	}
	var out []string
	walkStrings(v, func(s string) string {
		if m := secretRef.FindStringSubmatch(s); m != nil && !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
		return s
	})
	slices.Sort(out)
	return out
}

// ResolveSecrets returns content with every secret reference replaced by
// its value; a reference to a secret values does not hold is an error.
func ResolveSecrets(content []byte, values map[string]string) ([]byte, error) {
	if len(SecretRefs(content)) == 0 {
		return content, nil
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(content))
	d.UseNumber() // numbers stay as written
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	var missing []string
	v = walkStrings(v, func(s string) string {
		m := secretRef.FindStringSubmatch(s)
		if m == nil {
			return s
		}
		val, ok := values[m[1]]
		if !ok {
			missing = append(missing, m[1])
		}
		return val
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("secret %s is not in the manifest", missing[0])
	}
	return json.Marshal(v)
}

// walkStrings replaces every string in a decoded JSON value by f's.
func walkStrings(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case map[string]any:
		for k, e := range x {
			x[k] = walkStrings(e, f)
		}
	case []any:
		for i, e := range x {
			x[i] = walkStrings(e, f)
		}
	}
	return v
}
