//go:build edgeonly

package cli

import "github.com/spf13/cobra"

// platform is empty in an edge-only build: no hub, audit, sim or demo.
func platform(*globals) []*cobra.Command { return nil }

// platformHint ends the root command's help.
const platformHint = `

This is an edge-only build: the hub, the simulator and the demo are left out.`

// serviceCatalogue is empty in an edge-only build: no EU catalogue export.
func serviceCatalogue(*globals) []*cobra.Command { return nil }
