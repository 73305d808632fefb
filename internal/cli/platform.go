//go:build !edgeonly

package cli

import "github.com/spf13/cobra"

// platform is the commands beyond the edge's: the hub, its audit tool, the
// simulated factory and the demo. An edge-only build (-tags edgeonly) has
// none of them and links neither the hub nor the simulator.
func platform(g *globals) []*cobra.Command {
	return []*cobra.Command{newDemo(g), newHub(g), newAudit(g), newAcademy(g), newSim(g), newBench(g)}
}

// platformHint ends the root command's help.
const platformHint = `

Start with 'molen demo': a hub, an edge and a simulated factory in one process.`
