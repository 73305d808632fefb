package opcua

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/molen-io/molen/internal/uns"
)

// Reasons under which Status.Rejected counts what browsing found but could
// not map.
const (
	// ReasonBrowseInvalidPath counts matches whose path template gives no
	// valid UNS path (a name too long or starting with '.', too many
	// levels, a level the template names that the match lacks).
	ReasonBrowseInvalidPath = "browse_invalid_path"
	// ReasonBrowseDuplicate counts matches whose UNS path or NodeID is
	// already mapped: by nodes (explicit entries win) or by an earlier
	// match.
	ReasonBrowseDuplicate = "browse_duplicate"
	// ReasonBrowseLimit counts connections on which the browse rules
	// matched more than max_browse_nodes variables; the rest are left out.
	ReasonBrowseLimit = "browse_limit"
	// ReasonBrowseFailed counts nodes the server would not browse (an
	// unknown root, a Bad status).
	ReasonBrowseFailed = "browse_failed"
)

// Browse maps the variables below a node whose browse-name paths match a
// pattern onto UNS series.
type Browse struct {
	// Root is the NodeID browsing starts from; the default is the Objects
	// folder, i=85.
	Root string `yaml:"root"`
	// Pattern matches the browse names of the path from Root (excluded)
	// to a variable, '/'-separated: a name matches itself, '+' matches any
	// one name, and '#', last only, any one or more names.
	Pattern string `yaml:"pattern"`
	// Path is the UNS path template: literal text with {n}, the n-th
	// browse name of the matched path (from 1), and {n+}, the names n to
	// the end joined by '/'. Names are sanitized: bytes outside
	// [A-Za-z0-9_.-] become '_'.
	Path string `yaml:"path"`
	// MaxDepth bounds how many levels below Root are browsed; 0 means
	// defaultMaxDepth.
	MaxDepth int `yaml:"max_depth"`
}

// defaultMaxDepth and maxMaxDepth are the default and the limit of
// Browse.MaxDepth.
const (
	defaultMaxDepth = 10
	maxMaxDepth     = 64
)

// rule is a compiled Browse.
type rule struct {
	at       string // "browse[i]", for messages
	root     *ua.NodeID
	levels   []string // the pattern's levels; the last may be "#"
	open     bool     // the pattern ends in '#'
	tmpl     []part
	maxDepth int
}

// part of a path template: a literal (level 0), browse name n, or names n
// to the end if rest.
type part struct {
	lit   string
	level int
	rest  bool
}

// compileRule checks b, reporting errors under at, e.g. browse[0].pattern.
func compileRule(at string, b Browse, bad func(path, format string, args ...any)) (rule, bool) {
	r := rule{at: at, maxDepth: b.MaxDepth}
	ok := true
	switch nid, err := ua.ParseNodeID(b.Root); {
	case b.Root == "":
		r.root = ua.NewNumericNodeID(0, id.ObjectsFolder)
	case err != nil || !strings.Contains(b.Root, "="):
		bad(at+".root", "%q is not a NodeID (want e.g. \"ns=2;s=Line1\" or \"i=85\")", b.Root)
		ok = false
	default:
		r.root = nid
	}
	if r.maxDepth == 0 {
		r.maxDepth = defaultMaxDepth
	}
	if r.maxDepth < 1 || r.maxDepth > maxMaxDepth {
		bad(at+".max_depth", "must be 1..%d (0 for %d)", maxMaxDepth, defaultMaxDepth)
		ok = false
	}
	if err := r.parsePattern(b.Pattern); err != nil {
		bad(at+".pattern", "%v", err)
		return r, false
	}
	if need := len(r.levels); need > r.maxDepth && r.maxDepth >= 1 {
		bad(at+".max_depth", "%d, but pattern %q needs %d levels", r.maxDepth, b.Pattern, need)
		ok = false
	}
	if err := r.parseTemplate(b.Path); err != nil {
		bad(at+".path", "%v", err)
		ok = false
	}
	return r, ok
}

func (r *rule) parsePattern(p string) error {
	if p == "" {
		return errors.New(`required (e.g. "+/Temperature" or "Line1/#")`)
	}
	r.levels = strings.Split(p, "/")
	for i, l := range r.levels {
		switch {
		case l == "":
			return fmt.Errorf("%q: empty level", p)
		case l == "#" && i != len(r.levels)-1:
			return fmt.Errorf("%q: # must be the last level", p)
		case l != "#" && l != "+" && strings.ContainsAny(l, "+#"):
			return fmt.Errorf("%q: + and # must stand alone in a level", p)
		}
	}
	r.open = r.levels[len(r.levels)-1] == "#"
	if len(r.levels) > maxMaxDepth {
		return fmt.Errorf("%q: %d levels, limit %d", p, len(r.levels), maxMaxDepth)
	}
	return nil
}

// parseTemplate parses the path template; every level it names must exist
// in every match, unless the pattern ends in '#'.
func (r *rule) parseTemplate(s string) error {
	if s == "" {
		return errors.New(`required: a UNS path template (e.g. "plant-1/line-1/{1}/temp_c")`)
	}
	var probe strings.Builder // s with every placeholder replaced by "x"
	for rest := s; rest != ""; {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			r.tmpl = append(r.tmpl, part{lit: rest})
			probe.WriteString(rest)
			break
		}
		if rest[i] == '}' {
			return fmt.Errorf("%q: } without {", s)
		}
		if i > 0 {
			r.tmpl = append(r.tmpl, part{lit: rest[:i]})
			probe.WriteString(rest[:i])
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return fmt.Errorf("%q: { without }", s)
		}
		ref := rest[i+1 : i+j]
		p := part{}
		num, isRest := strings.CutSuffix(ref, "+")
		p.rest = isRest
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 || n > r.maxDepth || num[0] == '0' || num[0] == '+' {
			return fmt.Errorf("%q: {%s}: want {n} or {n+} with n 1..%d (max_depth), a browse name of the match", s, ref, r.maxDepth)
		}
		if !r.open && n > len(r.levels) {
			return fmt.Errorf("%q: {%s}: matches of %q have %d names", s, ref, strings.Join(r.levels, "/"), len(r.levels))
		}
		p.level = n
		r.tmpl = append(r.tmpl, p)
		probe.WriteString("x")
		rest = rest[i+j+1:]
	}
	if err := uns.ValidatePrefix(probe.String()); err != nil || strings.HasSuffix(s, "/") {
		if err == nil {
			err = errors.New("ends with /")
		}
		return fmt.Errorf("%q: %v", s, err)
	}
	return nil
}

// admits reports whether name may be the browse name at depth d (0 is the
// first level below the root) of a match.
func (r *rule) admits(d int, name string) bool {
	switch {
	case d < len(r.levels) && r.levels[d] == "#":
		return true
	case d < len(r.levels):
		return r.levels[d] == "+" || r.levels[d] == name
	default:
		return r.open
	}
}

// complete reports whether a path of n names that every level admitted is
// a match.
func (r *rule) complete(n int) bool {
	if r.open {
		return n >= len(r.levels)
	}
	return n == len(r.levels)
}

// series maps the browse names of a match onto a UNS path.
func (r *rule) series(names []string) (string, error) {
	var b strings.Builder
	for _, p := range r.tmpl {
		switch {
		case p.level == 0:
			b.WriteString(p.lit)
		case p.level > len(names):
			return "", fmt.Errorf("the path uses name %d; the match has %d", p.level, len(names))
		case p.rest:
			for i, n := range names[p.level-1:] {
				if i > 0 {
					b.WriteByte('/')
				}
				b.WriteString(sanitize(n))
			}
		default:
			b.WriteString(sanitize(names[p.level-1]))
		}
	}
	s := b.String()
	if err := uns.ValidatePath(s); err != nil {
		return "", err
	}
	return s, nil
}

// sanitize replaces the bytes of a browse name that cannot be in a UNS path
// segment with '_'.
func sanitize(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// errBrowseLimit stops browsing once max_browse_nodes variables are mapped.
var errBrowseLimit = errors.New("browse limit reached")

// browse returns the nodes of a connection: the explicit nodes, then the
// variables the browse rules match, in rule order and breadth first. A
// match whose path is invalid or already mapped is counted and left out;
// so are matches beyond max_browse_nodes. It fails only if a Browse
// request fails.
func (in *Input) browse(ctx context.Context, c *gopcua.Client) ([]node, error) {
	nodes := slices.Clone(in.plan.nodes)
	if len(in.plan.browse) == 0 {
		return nodes, nil
	}
	paths := make(map[string]bool, len(nodes))
	ids := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		paths[n.series] = true
		ids[n.id.String()] = true
	}
	added := 0
	for _, r := range in.plan.browse {
		before := added
		err := in.walk(ctx, c, r, func(nid *ua.NodeID, names []string) error {
			where := fmt.Sprintf("%s: %s (%s)", r.at, nid, strings.Join(names, "/"))
			series, err := r.series(names)
			switch {
			case err != nil:
				in.status.Reject(ReasonBrowseInvalidPath, fmt.Sprintf("%s: %v", where, err))
				return nil
			case paths[series]:
				in.status.Reject(ReasonBrowseDuplicate, fmt.Sprintf("%s: %s is already mapped", where, series))
				return nil
			case ids[nid.String()]:
				in.status.Reject(ReasonBrowseDuplicate, fmt.Sprintf("%s: the node is already mapped", where))
				return nil
			case added == in.cfg.MaxBrowseNodes:
				in.status.Reject(ReasonBrowseLimit, fmt.Sprintf("%s: more than max_browse_nodes (%d) variables match; reading the first %d",
					r.at, in.cfg.MaxBrowseNodes, in.cfg.MaxBrowseNodes))
				return errBrowseLimit
			}
			paths[series], ids[nid.String()] = true, true
			nodes = append(nodes, node{id: nid, series: series})
			added++
			return nil
		})
		if errors.Is(err, errBrowseLimit) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.at, err)
		}
		in.log.Debug("browsed", "rule", r.at, "root", r.root, "mapped", added-before)
	}
	return nodes, nil
}

// frontier is a node to browse and the browse names leading to it.
type frontier struct {
	id    *ua.NodeID
	names []string
}

// walk browses breadth first from r's root, at most r.maxDepth levels
// deep, following hierarchical references to objects and variables whose
// names the pattern admits, and calls match for each variable that
// completes the pattern. A node reached twice (the address space is a
// graph) is visited once. walk returns the first error of match.
func (in *Input) walk(ctx context.Context, c *gopcua.Client, r rule, match func(*ua.NodeID, []string) error) error {
	level := []frontier{{id: r.root}}
	seen := map[string]bool{r.root.String(): true}
	for depth := 0; depth < r.maxDepth && len(level) > 0; depth++ {
		var next []frontier
		for chunk := range slices.Chunk(level, in.cfg.MaxNodesPerRequest) {
			refs, err := in.children(ctx, c, r, chunk)
			if err != nil {
				return err
			}
			for j, f := range chunk {
				for _, ref := range refs[j] {
					if ref == nil || ref.BrowseName == nil || ref.NodeID == nil || ref.NodeID.NodeID == nil ||
						ref.NodeID.ServerIndex != 0 || ref.NodeID.NamespaceURI != "" {
						continue // not a node of this server that we can name
					}
					name := ref.BrowseName.Name
					if !r.admits(depth, name) {
						continue
					}
					nid := ref.NodeID.NodeID
					if key := nid.String(); seen[key] {
						continue
					} else {
						seen[key] = true
					}
					names := append(slices.Clip(f.names), name)
					if ref.NodeClass == ua.NodeClassVariable && r.complete(len(names)) {
						if err := match(nid, names); err != nil {
							return err
						}
					}
					if depth+1 < r.maxDepth && (r.open || len(names) < len(r.levels)) {
						next = append(next, frontier{id: nid, names: names})
					}
				}
			}
		}
		level = next
	}
	return nil
}

// children browses the forward hierarchical references (Organizes,
// HasComponent, HasProperty, …) of the nodes of chunk to objects and
// variables, following continuation points. A node the server will not
// browse is counted and has no children.
func (in *Input) children(ctx context.Context, c *gopcua.Client, r rule, chunk []frontier) ([][]*ua.ReferenceDescription, error) {
	req := &ua.BrowseRequest{NodesToBrowse: make([]*ua.BrowseDescription, len(chunk))}
	for j, f := range chunk {
		req.NodesToBrowse[j] = &ua.BrowseDescription{
			NodeID:          f.id,
			BrowseDirection: ua.BrowseDirectionForward,
			ReferenceTypeID: ua.NewNumericNodeID(0, id.HierarchicalReferences),
			IncludeSubtypes: true,
			NodeClassMask:   uint32(ua.NodeClassObject | ua.NodeClassVariable),
			ResultMask:      uint32(ua.BrowseResultMaskBrowseName | ua.BrowseResultMaskNodeClass),
		}
	}
	res, err := c.Browse(ctx, req)
	if err == nil && len(res.Results) != len(chunk) {
		err = fmt.Errorf("%d results for %d nodes", len(res.Results), len(chunk))
	}
	if err != nil {
		return nil, fmt.Errorf("browse %d nodes: %w", len(chunk), err)
	}
	out := make([][]*ua.ReferenceDescription, len(chunk))
	for j, br := range res.Results {
		for br != nil {
			if quality(br.StatusCode) == uns.Bad {
				in.status.Reject(ReasonBrowseFailed, fmt.Sprintf("%s: browse %s: %s", r.at, chunk[j].id, statusName(br.StatusCode)))
				break
			}
			out[j] = append(out[j], br.References...)
			if len(br.ContinuationPoint) == 0 {
				break
			}
			next, err := c.BrowseNext(ctx, &ua.BrowseNextRequest{ContinuationPoints: [][]byte{br.ContinuationPoint}})
			if err == nil && len(next.Results) != 1 {
				err = fmt.Errorf("%d results for 1 continuation point", len(next.Results))
			}
			if err != nil {
				return nil, fmt.Errorf("browse next of %s: %w", chunk[j].id, err)
			}
			br = next.Results[0]
		}
		// Servers list references in no particular order; sort them by
		// browse name so which nodes a match limit keeps is repeatable.
		slices.SortStableFunc(out[j], func(a, b *ua.ReferenceDescription) int {
			return strings.Compare(browseName(a), browseName(b))
		})
	}
	return out, nil
}

func browseName(r *ua.ReferenceDescription) string {
	if r == nil || r.BrowseName == nil {
		return ""
	}
	return r.BrowseName.Name
}
