package operator

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/vm"

	"github.com/molen-io/molen/internal/pipeline"
	"github.com/molen-io/molen/internal/uns"
)

// The variables every expression of filter and map can use. value is the
// point's number (a bool is 0 or 1); an expression that uses value skips
// string points (counted as wrong_type). text is a string point's value
// ("" for others), ts its time in unix ms, q its quality.
var exprVars = map[string]any{
	"value":  0.0,
	"text":   "",
	"series": "",
	"asset":  "",
	"tag":    "",
	"q":      "",
	"ts":     0,
}

// frame holds the variables of one evaluation. It is reused, so
// evaluation does not allocate.
type frame struct {
	value                       float64
	text, series, asset, tag, q string
	ts                          int64     // unix ms
	vars                        []float64 // map's named inputs, by slot
	err                         bool      // set by the fast path on a run-time error
}

// set fills f from p. ok is false (with the reason) if the expression
// needs value and p has no usable number.
func (f *frame) set(p *uns.Point, needValue bool) (pipeline.Reason, bool) {
	f.series, f.ts, f.q = p.Series, p.TS/1e6, p.Quality.String()
	f.asset, f.tag = uns.Asset(p.Series), uns.Tag(p.Series)
	f.text = p.Value.Str()
	if !needValue {
		f.value, _ = p.Value.AsFloat()
		return 0, true
	}
	v, r, ok := number(p.Value)
	f.value = v
	return r, ok
}

// program is a compiled expression. Most expressions over numbers, bools
// and these variables compile to a tree of Go closures that runs without
// allocating; the rest run on expr's VM, which allocates.
type program struct {
	src       string
	typ       reflect.Kind // Float64, Int, Bool or String
	needValue bool         // the expression uses value

	num  func(*frame) float64 // fast path of a numeric expression
	bool func(*frame) bool    // fast path of a boolean expression

	vm    *vm.Program // the fallback
	vmm   vm.VM
	env   map[string]any
	slots []string // names of the extra variables, by slot
}

// compileExpr compiles src over exprVars plus the float variables named in
// slots. wantBool asks for a boolean expression (filter).
func compileExpr(src string, slots []string, wantBool bool) (*program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty expression")
	}
	env := make(map[string]any, len(exprVars)+len(slots))
	for k, v := range exprVars {
		env[k] = v
	}
	for _, s := range slots {
		if _, dup := env[s]; dup {
			return nil, fmt.Errorf("input name %q is taken by a built-in variable", s)
		}
		env[s] = 0.0
	}
	cfg := conf.CreateNew()
	expr.Env(env)(cfg)
	if wantBool {
		expr.AsBool()(cfg)
	}
	cfg.Optimize = false
	cfg.Check()
	tree, err := checker.ParseCheck(src, cfg)
	if err != nil {
		return nil, err
	}
	p := &program{src: src, env: env, slots: slots}
	switch k := tree.Node.Type().Kind(); k {
	case reflect.Float64, reflect.Bool, reflect.String:
		p.typ = k
	case reflect.Int, reflect.Int64:
		p.typ = reflect.Int
	default:
		return nil, fmt.Errorf("%q has no definite type: want a number, a bool or a string", src)
	}
	p.needValue = uses(tree.Node, "value")
	c := fastCompiler{slots: slots}
	switch p.typ {
	case reflect.Float64, reflect.Int:
		p.num = c.num(tree.Node)
	case reflect.Bool:
		p.bool = c.boolean(tree.Node)
	}
	if p.num == nil && p.bool == nil {
		if p.vm, err = compiler.Compile(tree, cfg); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func uses(n ast.Node, name string) bool {
	found := false
	ast.Find(n, func(n ast.Node) bool {
		if id, ok := n.(*ast.IdentifierNode); ok && id.Value == name {
			found = true
		}
		return found
	})
	return found
}

// evalBool evaluates a boolean program.
func (p *program) evalBool(f *frame) (bool, error) {
	if p.bool != nil {
		f.err = false
		b := p.bool(f)
		if f.err {
			return false, errEval
		}
		return b, nil
	}
	out, err := p.runVM(f)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, errEval
	}
	return b, nil
}

var errEval = errors.New("evaluation failed")

// eval evaluates a program into a Value.
func (p *program) eval(f *frame) (uns.Value, error) {
	switch {
	case p.num != nil:
		f.err = false
		x := p.num(f)
		if f.err {
			return uns.Value{}, errEval
		}
		if p.typ == reflect.Int {
			return uns.Int(int64(x)), nil
		}
		return uns.Float(x), nil
	case p.bool != nil:
		b, err := p.evalBool(f)
		return uns.Bool(b), err
	}
	out, err := p.runVM(f)
	if err != nil {
		return uns.Value{}, err
	}
	switch x := out.(type) {
	case float64:
		return uns.Float(x), nil
	case int:
		return uns.Int(int64(x)), nil
	case int64:
		return uns.Int(x), nil
	case bool:
		return uns.Bool(x), nil
	case string:
		return uns.String(x), nil
	}
	return uns.Value{}, fmt.Errorf("result %T is not a number, bool or string", out)
}

func (p *program) runVM(f *frame) (any, error) {
	e := p.env
	e["value"], e["text"], e["series"], e["asset"], e["tag"], e["q"], e["ts"] =
		f.value, f.text, f.series, f.asset, f.tag, f.q, int(f.ts)
	for i, s := range p.slots {
		e[s] = f.vars[i]
	}
	return p.vmm.Run(p.vm, e)
}

// fastCompiler turns a checked expression tree into closures. Each method
// returns nil for a node it does not handle, and the whole expression then
// runs on the VM. Numbers are float64 throughout, which gives expr's
// results for ints within ±2^53.
type fastCompiler struct {
	slots []string
}

func kindOf(n ast.Node) reflect.Kind {
	switch k := n.Type().Kind(); k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64:
		return reflect.Float64
	default:
		return k
	}
}

func (c fastCompiler) num(n ast.Node) func(*frame) float64 {
	if kindOf(n) != reflect.Float64 {
		return nil
	}
	switch n := n.(type) {
	case *ast.IntegerNode:
		v := float64(n.Value)
		return func(*frame) float64 { return v }
	case *ast.FloatNode:
		v := n.Value
		return func(*frame) float64 { return v }
	case *ast.IdentifierNode:
		switch n.Value {
		case "value":
			return func(f *frame) float64 { return f.value }
		case "ts":
			return func(f *frame) float64 { return float64(f.ts) }
		}
		for i, s := range c.slots {
			if s == n.Value {
				return func(f *frame) float64 { return f.vars[i] }
			}
		}
	case *ast.UnaryNode:
		x := c.num(n.Node)
		if x == nil {
			return nil
		}
		switch n.Operator {
		case "-":
			return func(f *frame) float64 { return -x(f) }
		case "+":
			return x
		}
	case *ast.BinaryNode:
		a, b := c.num(n.Left), c.num(n.Right)
		if a == nil || b == nil {
			return nil
		}
		switch n.Operator {
		case "+":
			return func(f *frame) float64 { return a(f) + b(f) }
		case "-":
			return func(f *frame) float64 { return a(f) - b(f) }
		case "*":
			return func(f *frame) float64 { return a(f) * b(f) }
		case "/":
			return func(f *frame) float64 { return a(f) / b(f) }
		case "%":
			// expr's % is on integers and fails on a zero divisor.
			return func(f *frame) float64 {
				x, y := a(f), b(f)
				if y == 0 {
					f.err = true
					return 0
				}
				return float64(int64(x) % int64(y))
			}
		case "**", "^":
			return func(f *frame) float64 { return math.Pow(a(f), b(f)) }
		}
	case *ast.ConditionalNode:
		cond, a, b := c.boolean(n.Cond), c.num(n.Exp1), c.num(n.Exp2)
		if cond == nil || a == nil || b == nil {
			return nil
		}
		return func(f *frame) float64 {
			if cond(f) {
				return a(f)
			}
			return b(f)
		}
	case *ast.BuiltinNode:
		args := make([]func(*frame) float64, len(n.Arguments))
		for i, a := range n.Arguments {
			if args[i] = c.num(a); args[i] == nil {
				return nil
			}
		}
		switch {
		case n.Name == "abs" && len(args) == 1:
			x := args[0]
			return func(f *frame) float64 { return math.Abs(x(f)) }
		case n.Name == "ceil" && len(args) == 1:
			x := args[0]
			return func(f *frame) float64 { return math.Ceil(x(f)) }
		case n.Name == "floor" && len(args) == 1:
			x := args[0]
			return func(f *frame) float64 { return math.Floor(x(f)) }
		case n.Name == "round" && len(args) == 1:
			x := args[0]
			return func(f *frame) float64 { return math.Round(x(f)) }
		case (n.Name == "min" || n.Name == "max") && len(args) == 2:
			x, y := args[0], args[1]
			if n.Name == "min" {
				return func(f *frame) float64 { return min(x(f), y(f)) }
			}
			return func(f *frame) float64 { return max(x(f), y(f)) }
		}
	}
	return nil
}

func (c fastCompiler) str(n ast.Node) func(*frame) string {
	if kindOf(n) != reflect.String {
		return nil
	}
	switch n := n.(type) {
	case *ast.StringNode:
		v := n.Value
		return func(*frame) string { return v }
	case *ast.IdentifierNode:
		switch n.Value {
		case "text":
			return func(f *frame) string { return f.text }
		case "series":
			return func(f *frame) string { return f.series }
		case "asset":
			return func(f *frame) string { return f.asset }
		case "tag":
			return func(f *frame) string { return f.tag }
		case "q":
			return func(f *frame) string { return f.q }
		}
	}
	return nil
}

func (c fastCompiler) boolean(n ast.Node) func(*frame) bool {
	if kindOf(n) != reflect.Bool {
		return nil
	}
	switch n := n.(type) {
	case *ast.BoolNode:
		v := n.Value
		return func(*frame) bool { return v }
	case *ast.UnaryNode:
		x := c.boolean(n.Node)
		if x != nil && (n.Operator == "!" || n.Operator == "not") {
			return func(f *frame) bool { return !x(f) }
		}
	case *ast.ConditionalNode:
		cond, a, b := c.boolean(n.Cond), c.boolean(n.Exp1), c.boolean(n.Exp2)
		if cond == nil || a == nil || b == nil {
			return nil
		}
		return func(f *frame) bool {
			if cond(f) {
				return a(f)
			}
			return b(f)
		}
	case *ast.BinaryNode:
		switch n.Operator {
		case "and", "&&", "or", "||":
			a, b := c.boolean(n.Left), c.boolean(n.Right)
			if a == nil || b == nil {
				return nil
			}
			if n.Operator == "and" || n.Operator == "&&" {
				return func(f *frame) bool { return a(f) && b(f) }
			}
			return func(f *frame) bool { return a(f) || b(f) }
		}
		if a, b := c.num(n.Left), c.num(n.Right); a != nil && b != nil {
			switch n.Operator {
			case "==":
				return func(f *frame) bool { return a(f) == b(f) }
			case "!=":
				return func(f *frame) bool { return a(f) != b(f) }
			case "<":
				return func(f *frame) bool { return a(f) < b(f) }
			case "<=":
				return func(f *frame) bool { return a(f) <= b(f) }
			case ">":
				return func(f *frame) bool { return a(f) > b(f) }
			case ">=":
				return func(f *frame) bool { return a(f) >= b(f) }
			}
			return nil
		}
		if a, b := c.str(n.Left), c.str(n.Right); a != nil && b != nil {
			switch n.Operator {
			case "==":
				return func(f *frame) bool { return a(f) == b(f) }
			case "!=":
				return func(f *frame) bool { return a(f) != b(f) }
			case "startsWith":
				return func(f *frame) bool { return strings.HasPrefix(a(f), b(f)) }
			case "endsWith":
				return func(f *frame) bool { return strings.HasSuffix(a(f), b(f)) }
			case "contains":
				return func(f *frame) bool { return strings.Contains(a(f), b(f)) }
			}
			return nil
		}
		if a, b := c.boolean(n.Left), c.boolean(n.Right); a != nil && b != nil {
			switch n.Operator {
			case "==":
				return func(f *frame) bool { return a(f) == b(f) }
			case "!=":
				return func(f *frame) bool { return a(f) != b(f) }
			}
		}
	}
	return nil
}
