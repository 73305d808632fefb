package yamlspec

import (
	"fmt"
	"sort"
	"sync"
)

// Registry holds the kinds of a component (connector inputs, pipeline
// operators) by the name that selects them in YAML. Kinds register in
// init; a Registry is safe for concurrent use.
type Registry[S any] struct {
	what string // for panics: "connector", "pipeline: operator"

	mu    sync.RWMutex // guards kinds
	kinds map[string]S
}

// NewRegistry returns an empty registry; what names it in panics.
func NewRegistry[S any](what string) *Registry[S] {
	return &Registry[S]{what: what, kinds: map[string]S{}}
}

// Register adds a kind; it panics on a duplicate or on an incomplete one
// (complete false), as registration happens in init.
func (r *Registry[S]) Register(name string, s S, complete bool) {
	if name == "" || !complete {
		panic(fmt.Sprintf("%s: incomplete spec %q", r.what, name))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.kinds[name]; dup {
		panic(fmt.Sprintf("%s: %q registered twice", r.what, name))
	}
	r.kinds[name] = s
}

// Lookup returns the kind registered under name.
func (r *Registry[S]) Lookup(name string) (S, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.kinds[name]
	return s, ok
}

// Names lists the registered kinds by name.
func (r *Registry[S]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Configs returns the lookup Decoder.Component and Decoder.List take: for a
// registered name, a new config of its kind (newConfig of its spec).
func Configs[S any, C Validator](r *Registry[S], newConfig func(S) C) func(name string) (Validator, bool) {
	return func(name string) (Validator, bool) {
		s, ok := r.Lookup(name)
		if !ok {
			return nil, false
		}
		return newConfig(s), true
	}
}
