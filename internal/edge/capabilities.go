package edge

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/molen-io/molen/internal/margo"
)

// capabilities is the edge's Margo device capabilities manifest
// (docs/fleet.md#margo), sent with every report: what the device is and
// has, in the form a Margo workload fleet manager reads.
func (e *Edge) capabilities(id string) margo.Capabilities {
	arch := runtime.GOARCH
	if !slices.Contains([]string{"amd64", "arm64", "arm"}, arch) {
		arch = "" // the specification knows no other
	}
	_, disk := diskSpace(e.cfg.DataDir)
	c := margo.Capabilities{APIVersion: "margo.org/v1", Kind: margo.CapabilitiesKind, Properties: margo.CapabilitiesProperties{
		ID: id, Vendor: "molen", ModelNumber: "edge " + e.cfg.Version, SerialNumber: id,
		Roles: []string{"Standalone Device"},
		Resources: margo.Resources{CPU: margo.CPU{Cores: float64(runtime.NumCPU()), Architecture: arch},
			Memory: memTotal(), Storage: bytesText(disk), Peripherals: []margo.Peripheral{}, Interfaces: netInterfaces()},
	}}
	if c.Properties.ID == "" {
		c.Properties.ID, c.Properties.SerialNumber = "unenrolled", "unenrolled"
	}
	return c
}

// bytesText writes n bytes as the specification's examples do ("16 GiB").
func bytesText(n uint64) string {
	if n == 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// memTotal is the machine's memory, from /proc/meminfo where there is one.
func memTotal() string {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb uint64
		if _, err := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); err == nil {
			return bytesText(kb << 10)
		}
	}
	return "unknown"
}

// netInterfaces are the machine's network interfaces that are up, by the
// kind their (Linux) name tells: wl… wifi, ww… cellular, can… canbus,
// everything else but the loopback ethernet; each kind once.
func netInterfaces() []margo.Interface {
	out := []margo.Interface{}
	ifs, err := net.Interfaces()
	if err != nil {
		return out
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 || i.Flags&net.FlagUp == 0 {
			continue
		}
		kind := "ethernet"
		switch {
		case strings.HasPrefix(i.Name, "wl"):
			kind = "wifi"
		case strings.HasPrefix(i.Name, "ww"):
			kind = "cellular"
		case strings.HasPrefix(i.Name, "can"):
			kind = "canbus"
		}
		if !slices.Contains(out, margo.Interface{Type: kind}) {
			out = append(out, margo.Interface{Type: kind})
		}
	}
	return out
}
