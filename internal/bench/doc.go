// Package bench measures a whole molen flow under load (molen bench): it
// starts a hub and an edge as child processes (or targets running ones by
// address), drives the edge's MQTT listener with simulated devices that
// speak MQTT as real ones do (JSON payloads), or has them publish JSON or
// Sparkplug B to an MQTT broker that the edge reads with an mqtt or
// sparkplug input, and reports what each stage sustained, how
// late data became queryable at the hub, what each process cost in CPU and
// memory, the disk used per point, and what was lost.
//
// Figures come from the processes' own /metrics (message, point and
// forwarding counters, process_cpu_seconds_total) and /proc, over a window
// after a warm-up; counts are checked end to end after the load stops and
// the edge has forwarded everything (drops = points published − points
// stored at the hub).
package bench
