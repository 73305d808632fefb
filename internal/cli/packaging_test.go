//go:build !edgeonly

package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8syaml "sigs.k8s.io/yaml"

	"github.com/molen-io/molen/internal/sign"
)

// TestPackagedSettings: the settings files the .deb installs are read by
// the commands their units run (no unknown key, the data in the unit's
// state directory), and so are the commands and environments of
// deploy/compose.yaml (with its ${…} filled in): what the packages ship
// cannot drift from the flags.
func TestPackagedSettings(t *testing.T) {
	printConfig := func(t *testing.T, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := Main(append(args, "--print-config"), &out, &errOut); code != 0 {
			t.Fatalf("molen %s --print-config: exit %d: %s", strings.Join(args, " "), code, errOut.String())
		}
		return out.String()
	}
	for _, c := range []struct{ cmd, file, want string }{
		{"hub", "../../packaging/etc/hub.yaml", "data: /var/lib/molen/hub  # file"},
		{"edge", "../../packaging/etc/edge.yaml", "data: /var/lib/molen/edge  # file"},
	} {
		if got := printConfig(t, c.cmd, "--config", c.file); !strings.Contains(got, c.want) {
			t.Errorf("%s: lacks %q:\n%s", c.file, c.want, got)
		}
		unit, err := os.ReadFile("../../packaging/systemd/molen-" + c.cmd + ".service")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(unit), "ExecStart=/usr/bin/molen "+c.cmd+" --config /etc/molen/"+c.cmd+".yaml\n") ||
			!strings.Contains(string(unit), "StateDirectory=molen/"+c.cmd+"\n") {
			t.Errorf("molen-%s.service does not run `molen %s --config /etc/molen/%s.yaml` with its state in /var/lib/molen/%s", c.cmd, c.cmd, c.cmd, c.cmd)
		}
	}

	// The settings' commented cluster replica, its keys set.
	hubYAML, err := os.ReadFile("../../packaging/etc/hub.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(hubYAML), "# One replica of a hub cluster")
	_, block, _ = strings.Cut(block, "\n")
	if !ok {
		t.Fatal("packaging/etc/hub.yaml: no cluster replica's settings")
	}
	replica := filepath.Join(t.TempDir(), "hub.yaml")
	if err := os.WriteFile(replica, regexp.MustCompile(`(?m)^# ([a-z-]+: )`).ReplaceAll([]byte(block), []byte("$1")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`cluster: "true"  # file`, "nats-routes: [hub-2.example.org:6222, hub-3.example.org:6222]  # file", "nats-tls-ca: /etc/molen/tls/ca.crt  # file"} {
		if got := printConfig(t, "hub", "--config", replica); !strings.Contains(got, want) {
			t.Errorf("the cluster replica's settings: lacks %q:\n%s", want, got)
		}
	}

	raw, err := os.ReadFile("../../deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Compose's interpolation, as a user's values would fill it.
	vars := map[string]string{"POSTGRES_PASSWORD": "pw", "MOLEN_VERSION": "v1.4.0", "MOLEN_ENROLL_TOKEN": "mle_x"}
	filled := regexp.MustCompile(`\$\{([A-Z_]+)(?::[-?][^}]*)?\}`).ReplaceAllStringFunc(string(raw), func(m string) string {
		name := regexp.MustCompile(`[A-Z_]+`).FindString(m)
		if v, ok := vars[name]; ok {
			return v
		}
		if _, def, ok := strings.Cut(m, ":-"); ok {
			return strings.TrimSuffix(def, "}")
		}
		return ""
	})
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal([]byte(filled), &compose); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"hub": "store: postgres://molen:********@postgres:5432/molen?sslmode=disable  # env", "edge": "hub: http://hub:8080  # env"} {
		s, ok := compose.Services[name]
		if !ok || s.Image != "molen:v1.4.0" {
			t.Fatalf("compose service %s: %+v", name, s)
		}
		t.Run(name, func(t *testing.T) {
			for k, v := range s.Environment {
				t.Setenv(k, v)
			}
			if got := printConfig(t, s.Command...); !strings.Contains(got, want) {
				t.Errorf("lacks %q:\n%s", want, got)
			}
		})
	}
}

// TestPackagedUnits has systemd read the packaged units (systemd-analyze
// verify, offline): no unknown key, no bad value. The binary is this
// test's, where the package installs molen.
func TestPackagedUnits(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze here")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	units, err := filepath.Glob("../../packaging/systemd/*.service")
	if err != nil || len(units) == 0 {
		t.Fatalf("no units: %v", err)
	}
	dir := t.TempDir()
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.Base(u))
		if err := os.WriteFile(path, bytes.ReplaceAll(b, []byte("/usr/bin/molen"), []byte(self)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", path).CombinedOutput()
		// It may say things about this machine (no systemd running);
		// nothing about the unit may it say.
		if err != nil || bytes.Contains(out, []byte(filepath.Base(u))) {
			t.Errorf("systemd-analyze verify %s: %v\n%s", filepath.Base(u), err, out)
		}
	}
}

// TestKubernetesManifests reads deploy/k8s as kubectl would: every file the
// kustomization lists (and no other) decodes strictly into the Kubernetes
// API's types of its kind (an unknown or misspelt field is an error), the
// StatefulSet's container runs `molen hub` with flags the command has
// (its --print-config, with the Secret's environment), its NATS routes
// name the StatefulSet's own pods through the headless Service, and the
// Services, probes, mounts and PodDisruptionBudget fit together.
func TestKubernetesManifests(t *testing.T) {
	const dir = "../../deploy/k8s/"
	var kust struct {
		Resources []string `json:"resources"`
		Namespace string   `json:"namespace"`
	}
	readYAML(t, dir+"kustomization.yaml", &kust)
	files, err := filepath.Glob(dir + "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if name := filepath.Base(f); name != "kustomization.yaml" && !slices.Contains(kust.Resources, name) {
			t.Errorf("%s is not among the kustomization's resources", name)
		}
	}
	var (
		sts       *appsv1.StatefulSet
		services  = map[string]*corev1.Service{}
		pdb       *policyv1.PodDisruptionBudget
		namespace bool
	)
	for _, res := range kust.Resources {
		raw, err := os.ReadFile(dir + res)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range strings.Split(string(raw), "\n---\n") {
			where := fmt.Sprintf("%s document %d", res, i+1)
			var tm metav1.TypeMeta
			if err := k8syaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 StatefulSet":
				sts = &appsv1.StatefulSet{}
				obj = sts
			case "v1 Service":
				obj = &corev1.Service{}
			case "policy/v1 PodDisruptionBudget":
				pdb = &policyv1.PodDisruptionBudget{}
				obj = pdb
			case "v1 Namespace":
				namespace = true
				obj = &corev1.Namespace{}
			default:
				t.Fatalf("%s: unexpected %s %s", where, tm.APIVersion, tm.Kind)
			}
			if err := k8syaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s (%s): %v", where, tm.Kind, err)
			}
			if svc, ok := obj.(*corev1.Service); ok {
				services[svc.Name] = svc
			}
		}
	}
	if sts == nil || pdb == nil || !namespace || len(services) != 2 {
		t.Fatalf("want a Namespace, a StatefulSet, a PodDisruptionBudget and two Services; have %d Services", len(services))
	}

	pod := sts.Spec.Template
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 3 || sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("the StatefulSet: want 3 replicas started in parallel (each waits for a NATS quorum)")
	}
	if !selects(sts.Spec.Selector.MatchLabels, pod.Labels) || !selects(pdb.Spec.Selector.MatchLabels, pod.Labels) {
		t.Errorf("the StatefulSet's or the PodDisruptionBudget's selector does not select the pods")
	}
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("the PodDisruptionBudget: want maxUnavailable 1")
	}
	headless := services[sts.Spec.ServiceName]
	if headless == nil || headless.Spec.ClusterIP != corev1.ClusterIPNone || !headless.Spec.PublishNotReadyAddresses {
		t.Fatalf("the StatefulSet's service %q: want a headless Service publishing not-ready pods (routes form before readiness)", sts.Spec.ServiceName)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("want one container, have %d", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for name, svc := range services {
		if !selects(svc.Spec.Selector, pod.Labels) {
			t.Errorf("Service %s selects no pod of the StatefulSet", name)
		}
		for _, p := range svc.Spec.Ports {
			if _, ok := ports[p.TargetPort.String()]; !ok {
				t.Errorf("Service %s: target port %q is not a port of the container", name, p.TargetPort.String())
			}
		}
	}
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil {
			t.Errorf("no %s probe", name)
			continue
		}
		if p.HTTPGet != nil && (p.HTTPGet.Path != "/healthz" || ports[p.HTTPGet.Port.String()] == 0) {
			t.Errorf("%s probe: GET %s on %s, want /healthz on a port of the container", name, p.HTTPGet.Path, p.HTTPGet.Port.String())
		}
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("the container requests no CPU or memory, or has no memory limit")
	}
	volumes := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = true
	}
	for _, v := range sts.Spec.VolumeClaimTemplates {
		volumes[v.Name] = true
	}
	for _, m := range c.VolumeMounts {
		if !volumes[m.Name] {
			t.Errorf("mount %s: no volume %q", m.MountPath, m.Name)
		}
	}

	// The container's command line, as Kubernetes expands it, is one
	// `molen hub` takes; the Secret's URL comes through the environment.
	env := map[string]string{"POD_NAME": sts.Name + "-0"}
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = regexp.MustCompile(`\$\(([A-Z_]+)\)`).ReplaceAllStringFunc(a, func(m string) string { return env[m[2:len(m)-1]] })
	}
	if args[0] != "hub" {
		t.Fatalf("the container runs %q, want molen hub", args[0])
	}
	// Files of the Secrets, in a directory of the test.
	files2 := t.TempDir()
	pub, _, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := sign.EncodePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(files2, "release.pem"), pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	var routes, data string
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--data="); ok {
			data = v
		}
		if v, ok := strings.CutPrefix(a, "--release-key="); ok {
			args[i] = "--release-key=" + filepath.Join(files2, filepath.Base(v))
		}
		if v, ok := strings.CutPrefix(a, "--nats-routes="); ok {
			routes = v
		}
	}
	// The shared key is where the hub reads it: <data>/secrets.key.
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
		return m.SubPath == "secrets.key" && m.MountPath == filepath.Join(data, "secrets.key")
	}) {
		t.Errorf("no Secret's secrets.key mounted at %s/secrets.key", data)
	}
	var want []string
	for i := range int(*sts.Spec.Replicas) {
		want = append(want, fmt.Sprintf("%s-%d.%s:%d", sts.Name, i, headless.Name, ports["nats-route"]))
	}
	if routes != strings.Join(want, ",") {
		t.Errorf("--nats-routes=%s, want the StatefulSet's pods %s", routes, strings.Join(want, ","))
	}
	t.Setenv("MOLEN_STORE", "postgres://molen:pw@db:5432/molen?sslmode=verify-full")
	var out, errOut bytes.Buffer
	if code := Main(append(args, "--print-config"), &out, &errOut); code != 0 {
		t.Fatalf("molen %s --print-config: exit %d: %s", strings.Join(args, " "), code, errOut.String())
	}
	for _, w := range []string{`cluster: "true"  # flag`, "replica: molen-hub-0  # flag", "store: postgres://molen:********@db:5432/molen?sslmode=verify-full  # env", "nats-tls-ca: /etc/molen/nats-tls/ca.crt  # flag"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("the container's configuration lacks %q:\n%s", w, out.String())
		}
	}
}

// selects reports whether a selector's labels are all among labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := k8syaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
