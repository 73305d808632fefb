package release

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ImageUID is the user the container runs as: no root, no shell.
const ImageUID = 65532

// CACerts is where the build machine's CA certificates are taken from for
// the image (the hub calls identity providers and webhooks over TLS).
var CACerts = "/etc/ssl/certs/ca-certificates.crt"

// Image is the container image of the molen binary at binary for arch:
// the binary alone on an empty base (it is static), the build machine's CA
// certificates, /var/lib/molen owned by ImageUID as the volume, and
// `molen hub` as the default command (docs/install.md; deploy/compose.yaml
// runs an edge from the same image).
func Image(binary string, arch Arch, version, revision string, created time.Time) (v1.Image, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	certs, err := os.ReadFile(CACerts)
	if err != nil {
		return nil, fmt.Errorf("image: CA certificates: %w", err)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	dir := func(path string, uid int, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: path, Mode: mode, Uid: uid, Gid: uid, ModTime: created})
	}
	file := func(path string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: path, Mode: mode, Size: int64(len(data)), ModTime: created}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, d := range []string{"etc/", "etc/ssl/", "etc/ssl/certs/", "usr/", "usr/bin/", "var/", "var/lib/"} {
		if err := dir(d, 0, 0o755); err != nil {
			return nil, err
		}
	}
	steps := []error{
		dir("var/lib/molen/", ImageUID, 0o750),
		dir("tmp/", 0, 0o1777),
		file("usr/bin/molen", 0o755, bin),
		file("etc/ssl/certs/ca-certificates.crt", 0o644, certs),
		// A passwd entry, so that the user has a name and a home.
		file("etc/passwd", 0o644, fmt.Appendf(nil, "root:x:0:0:root:/root:/sbin/nologin\nmolen:x:%d:%d:molen:/var/lib/molen:/sbin/nologin\n", ImageUID, ImageUID)),
		file("etc/group", 0o644, fmt.Appendf(nil, "root:x:0:\nmolen:x:%d:\n", ImageUID)),
		tw.Close(),
	}
	for _, err := range steps {
		if err != nil {
			return nil, fmt.Errorf("image layer: %w", err)
		}
	}
	data := b.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Variant = arch.GOARCH, "linux", map[string]string{"7": "v7"}[arch.GOARM]
	cf.Created = v1.Time{Time: created}
	cf.Config.Entrypoint = []string{"/usr/bin/molen"}
	cf.Config.Cmd = []string{"hub", "--data", "/var/lib/molen/hub", "--listen", "0.0.0.0:8080"}
	cf.Config.User = fmt.Sprintf("%d:%d", ImageUID, ImageUID)
	cf.Config.WorkingDir = "/var/lib/molen"
	// By default a hub with its data in the volume, listening on every
	// address of the container (its port is published, or not); an edge
	// is `edge --data /var/lib/molen/edge …` (deploy/compose.yaml).
	cf.Config.Env = []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
	cf.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}, "1883/tcp": {}}
	cf.Config.Volumes = map[string]struct{}{"/var/lib/molen": {}}
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":    "molen",
		"org.opencontainers.image.version":  version,
		"org.opencontainers.image.revision": revision,
		"org.opencontainers.image.source":   "https://github.com/molen-io/molen",
		"org.opencontainers.image.created":  created.UTC().Format(time.RFC3339),
	}
	return mutate.ConfigFile(img, cf)
}

// WriteImage writes img as a tarball that `docker load` and `podman load`
// read, tagged molen:<version>.
func WriteImage(path string, img v1.Image, version string) error {
	tag, err := name.NewTag("molen:"+version, name.WeakValidation)
	if err != nil {
		return fmt.Errorf("image tag: %w", err)
	}
	return tarball.WriteToFile(path, tag, img)
}
