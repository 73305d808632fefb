package bench

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable prints r for people.
func (r *Result) WriteTable(w io.Writer) error {
	l := r.Load
	sync := "fsync before every acknowledgement"
	if r.SyncInterval != "0s" {
		sync = "fsync every " + r.SyncInterval
	}
	payload := "JSON"
	if l.sparkplug() {
		payload = "Sparkplug B"
	}
	if l.Machines {
		var names []string
		for _, c := range r.Services {
			names = append(names, c.Name)
		}
		installed := "no services"
		if len(names) > 0 {
			installed = "services " + strings.Join(names, ", ")
		}
		payload += ", machines' state and counters; " + installed
	}
	via := "to the edge's listener"
	if r.Broker != "" {
		via = "through the broker " + r.Broker + " to the edge's input"
	}
	fmt.Fprintf(w, "molen bench: scenario %s: %d devices × %d tags (%d a message, %s) at %s Hz, QoS %d, %s, %s; window %.1f s\n",
		r.Scenario, l.Devices, l.Tags, l.TagsPerMessage, payload, strconv.FormatFloat(l.Rate, 'f', -1, 64), l.QoS, via, sync, r.Window)
	if len(r.Steps) > 0 {
		fmt.Fprintln(w, "\nrates tried (max):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "offered msg/s\tsent msg/s\tstored points/s\tbacklog growth\tedge CPU\tqueryable p99 ms\tsustained\t")
		for _, s := range r.Steps {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f\t%.0f\t%v\t\n", num(s.Offered), num(s.Sent), num(s.Stored), num(s.Backlog), s.EdgeCPU, s.Latency.P99, s.Sustains)
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tmessages/s\tpoints/s\t")
	for _, s := range r.Stages {
		m := "-"
		if s.Messages > 0 {
			m = num(s.Messages)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", s.Name, m, num(s.Points))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "latency\tn\tp50 ms\tp99 ms\tmax ms\t")
	fmt.Fprintf(tw, "device → queryable at the hub\t%d\t%.1f\t%.1f\t%.1f\t\n", r.Latency.N, r.Latency.P50, r.Latency.P99, r.Latency.Max)
	if l.QoS > 0 {
		fmt.Fprintf(tw, "publish → PUBACK (durable at the edge)\t%d\t%.1f\t%.1f\t%.1f\t\n", r.Ack.N, r.Ack.P50, r.Ack.P99, r.Ack.Max)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "process\tCPU (cores)\tmessages per CPU-second\tpeak RSS MB\tRSS MB at the end\t")
	for _, p := range r.Processes {
		rss := "-"
		if p.RSS > 0 {
			rss = strconv.FormatFloat(float64(p.RSS)/1e6, 'f', 1, 64)
		}
		fmt.Fprintf(tw, "%s\t%.3f\t%s\t%.1f\t%s\t\n", p.Name, p.CPU, num(p.MessagesPerCPUSecond), float64(p.PeakRSS)/1e6, rss)
	}
	tw.Flush()
	if len(r.Services) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "service (whole run)\tpoints in\tpoints out\tevents\tcalls\tfailures\tmemory MiB\t")
		for _, c := range r.Services {
			fmt.Fprintf(tw, "%s (%s)\t%s\t%s\t%s\t%s\t%d\t%.1f\t\n", c.Name, c.ID, num(float64(c.In)), num(float64(c.Out)), num(float64(c.Events)), num(float64(c.Calls)), c.Failures, c.MemoryMiB)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\ndisk: edge %.1f bytes a point buffered; hub %.1f bytes a point stored (before compaction)\n", r.Disk.Edge, r.Disk.Hub)
	c := r.Counts
	fmt.Fprintf(w, "counts: published %s messages (%s points), acknowledged %s; edge received %s, accepted %s points, forwarded %s; hub stored %s\n",
		num(float64(c.Published)), num(float64(c.PublishedPoints)), num(float64(c.Acked)), num(float64(c.Received)), num(float64(c.Accepted)), num(float64(c.Forwarded)), num(float64(c.Stored)))
	input := ""
	if c.InputDropped > 0 {
		input = fmt.Sprintf(", lost by the broker input %d", c.InputDropped)
	}
	_, err := fmt.Fprintf(w, "drops: rejected %d, refused %d, dropped by the buffer %d%s, lost %d points\n", c.Rejected, c.Refused, c.Dropped, input, c.Lost)
	return err
}

// num formats a figure with thousands separators and no decimals (one
// below 10).
func num(f float64) string {
	if f != 0 && f < 10 && f > -10 {
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	s := strconv.FormatInt(int64(math.Round(f)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
