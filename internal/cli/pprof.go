package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/spf13/cobra"
)

// pprofHelp is the --pprof flag's help, the same on edge and hub.
const pprofHelp = "serve Go's profiler (net/http/pprof: /debug/pprof/) on this address, e.g. 127.0.0.1:6060, on its own listener (off when empty; anyone who reaches it can profile the process: keep it on loopback)"

// addPprof adds --pprof to cmd; the returned start serves the profiler
// when the flag is set, until ctx ends.
func addPprof(cmd *cobra.Command) func(ctx context.Context, log *slog.Logger) error {
	var addr string
	cmd.Flags().StringVar(&addr, "pprof", "", pprofHelp)
	return func(ctx context.Context, log *slog.Logger) error {
		if addr == "" {
			return nil
		}
		_, err := servePprof(ctx, addr, log)
		return err
	}
}

// servePprof serves the profiler's handlers on addr until ctx ends and
// returns the address it listens on. Its own listener and mux keep the
// profiler off the API's routes and their policy.
func servePprof(ctx context.Context, addr string, log *slog.Logger) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof listener stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	log.Info("profiler listening", "pprof", "http://"+ln.Addr().String()+"/debug/pprof/")
	return ln.Addr().String(), nil
}
