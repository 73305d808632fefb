package promql

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxQueryLength bounds the text of a query.
const MaxQueryLength = 16 << 10

// ParseError is a query the parser refuses: malformed, or outside the
// subset molen answers. The HTTP API answers it as bad_data (400).
type ParseError struct {
	Pos int // byte offset in the query
	Msg string
}

func (e *ParseError) Error() string { return fmt.Sprintf("1:%d: parse error: %s", e.Pos+1, e.Msg) }

// Functions are the functions molen evaluates, each of a range vector.
var Functions = []string{
	"rate", "increase", "delta",
	"avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time", "last_over_time",
}

// Aggregations are the aggregation operators molen evaluates.
var Aggregations = []string{"sum", "avg", "min", "max", "count"}

// unsupportedAggs are Prometheus's other aggregation operators, named in
// the refusal.
var unsupportedAggs = []string{"stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group", "limitk", "limit_ratio"}

// Parse parses a query of the subset.
func Parse(input string) (Expr, error) {
	if len(input) > MaxQueryLength {
		return nil, &ParseError{Pos: 0, Msg: fmt.Sprintf("query of %d bytes; the limit is %d", len(input), MaxQueryLength)}
	}
	if !utf8.ValidString(input) {
		return nil, &ParseError{Pos: 0, Msg: "query is not valid UTF-8"}
	}
	p := &parser{lex: lexer{in: input}}
	p.next()
	e, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.unexpected("end of input")
	}
	return e, nil
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tNumber
	tDuration
	tString
	tOp // + - * / % ^ == != < > <= >= = =~ !~ @ :
	tLParen
	tRParen
	tLBrace
	tRBrace
	tLBracket
	tRBracket
	tComma
)

type token struct {
	kind tokKind
	val  string
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tString:
		return "string " + t.val
	}
	return fmt.Sprintf("%q", t.val)
}

type lexer struct {
	in  string
	pos int
}

func isDigit(c byte) bool        { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool        { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isIdentChar(c byte) bool    { return isAlpha(c) || isDigit(c) || c == ':' }
func isDurationUnit(c byte) bool { return strings.IndexByte("smhdwy", c) >= 0 }

// next returns the next token, or an error token (kind tEOF with val set)
// the parser reports.
func (l *lexer) next() (token, error) {
	for l.pos < len(l.in) {
		c := l.in[l.pos]
		if c == '#' { // a comment to the end of the line
			for l.pos < len(l.in) && l.in[l.pos] != '\n' {
				l.pos++
			}
			continue
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			break
		}
		l.pos++
	}
	start := l.pos
	if l.pos >= len(l.in) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := l.in[l.pos]
	single := map[byte]tokKind{'(': tLParen, ')': tRParen, '{': tLBrace, '}': tRBrace, '[': tLBracket, ']': tRBracket, ',': tComma}
	if k, ok := single[c]; ok {
		l.pos++
		return token{kind: k, val: string(c), pos: start}, nil
	}
	switch {
	case isDigit(c) || c == '.' && l.pos+1 < len(l.in) && isDigit(l.in[l.pos+1]):
		return l.number()
	case isAlpha(c):
		for l.pos < len(l.in) && isIdentChar(l.in[l.pos]) {
			l.pos++
		}
		return token{kind: tIdent, val: l.in[start:l.pos], pos: start}, nil
	case c == '"' || c == '\'' || c == '`':
		return l.str(c)
	}
	for _, op := range []string{"==", "!=", "<=", ">=", "=~", "!~", "+", "-", "*", "/", "%", "^", "<", ">", "=", "@", ":"} {
		if strings.HasPrefix(l.in[l.pos:], op) {
			l.pos += len(op)
			return token{kind: tOp, val: op, pos: start}, nil
		}
	}
	r, _ := utf8.DecodeRuneInString(l.in[l.pos:])
	return token{}, &ParseError{Pos: start, Msg: fmt.Sprintf("unexpected character %q", r)}
}

// number lexes a number or, when a unit follows the digits, a duration
// (5m, 1h30m, 250ms).
func (l *lexer) number() (token, error) {
	start := l.pos
	for l.pos < len(l.in) && isDigit(l.in[l.pos]) {
		l.pos++
	}
	if l.pos < len(l.in) && isDurationUnit(l.in[l.pos]) && start < l.pos {
		for l.pos < len(l.in) && (isDigit(l.in[l.pos]) || isDurationUnit(l.in[l.pos])) {
			l.pos++
		}
		return token{kind: tDuration, val: l.in[start:l.pos], pos: start}, nil
	}
	if l.pos < len(l.in) && l.in[l.pos] == '.' {
		l.pos++
		for l.pos < len(l.in) && isDigit(l.in[l.pos]) {
			l.pos++
		}
	}
	if l.pos < len(l.in) && (l.in[l.pos] == 'e' || l.in[l.pos] == 'E') {
		save := l.pos
		l.pos++
		if l.pos < len(l.in) && (l.in[l.pos] == '+' || l.in[l.pos] == '-') {
			l.pos++
		}
		if l.pos < len(l.in) && isDigit(l.in[l.pos]) {
			for l.pos < len(l.in) && isDigit(l.in[l.pos]) {
				l.pos++
			}
		} else {
			l.pos = save
		}
	}
	if l.pos < len(l.in) && isAlpha(l.in[l.pos]) {
		return token{}, &ParseError{Pos: start, Msg: fmt.Sprintf("bad number or duration %q", l.in[start:l.pos+1])}
	}
	return token{kind: tNumber, val: l.in[start:l.pos], pos: start}, nil
}

// str lexes a quoted string: Go's escapes in "…" and '…', none in `…`.
func (l *lexer) str(q byte) (token, error) {
	start := l.pos
	l.pos++
	for l.pos < len(l.in) {
		c := l.in[l.pos]
		switch {
		case c == '\\' && q != '`':
			l.pos += 2
			continue
		case c == q:
			l.pos++
			raw := l.in[start:l.pos]
			var s string
			var err error
			switch q {
			case '`':
				s = raw[1 : len(raw)-1]
			case '\'':
				// Go has no single-quoted strings: swap the quotes.
				inner := raw[1 : len(raw)-1]
				inner = strings.ReplaceAll(inner, `\'`, `'`)
				inner = strings.ReplaceAll(inner, `"`, `\"`)
				s, err = strconv.Unquote(`"` + inner + `"`)
			default:
				s, err = strconv.Unquote(raw)
			}
			if err != nil {
				return token{}, &ParseError{Pos: start, Msg: fmt.Sprintf("invalid string %s: %v", raw, err)}
			}
			return token{kind: tString, val: s, pos: start}, nil
		case c == '\n' && q != '`':
			return token{}, &ParseError{Pos: l.pos, Msg: "unterminated quoted string"}
		}
		l.pos++
	}
	return token{}, &ParseError{Pos: start, Msg: "unterminated quoted string"}
}

type parser struct {
	lex lexer
	tok token
	err error // of the lexer, reported at the next check
}

func (p *parser) next() {
	if p.err != nil {
		return
	}
	t, err := p.lex.next()
	if err != nil {
		p.err = err
		p.tok = token{kind: tEOF, pos: p.lex.pos}
		return
	}
	p.tok = t
}

func (p *parser) fail(pos int, format string, args ...any) error {
	if p.err != nil {
		return p.err
	}
	return &ParseError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) unexpected(want string) error {
	return p.fail(p.tok.pos, "unexpected %s, want %s", p.tok, want)
}

func (p *parser) expect(k tokKind, want string) (token, error) {
	if p.err != nil {
		return token{}, p.err
	}
	if p.tok.kind != k {
		return token{}, p.unexpected(want)
	}
	t := p.tok
	p.next()
	return t, nil
}

// precedence of the binary operators the subset has; 0 for none.
func precedence(op string) int {
	switch op {
	case "+", "-":
		return 1
	case "*", "/", "%":
		return 2
	case "^":
		return 3
	}
	return 0
}

// expr parses a binary expression whose operators bind tighter than min.
func (p *parser) expr(min int) (Expr, error) {
	lhs, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.err == nil {
		t := p.tok
		if t.kind == tIdent && slices.Contains([]string{"and", "or", "unless"}, t.val) ||
			t.kind == tOp && slices.Contains([]string{"==", "!=", "<", ">", "<=", ">="}, t.val) {
			return nil, p.fail(t.pos, "operator %q is not supported: molen answers +, -, *, /, %% and ^ with a number", t.val)
		}
		prec := 0
		if t.kind == tOp {
			prec = precedence(t.val)
		}
		if prec == 0 || prec <= min && !(t.val == "^" && prec == min) {
			break
		}
		p.next()
		if p.tok.kind == tIdent && slices.Contains([]string{"bool", "on", "ignoring", "group_left", "group_right"}, p.tok.val) {
			return nil, p.fail(p.tok.pos, "%q is not supported: molen answers arithmetic with a number only", p.tok.val)
		}
		next := prec
		if t.val == "^" {
			next = prec - 1 // right-associative
		}
		rhs, err := p.expr(next)
		if err != nil {
			return nil, err
		}
		if !isScalar(lhs) && !isScalar(rhs) {
			return nil, p.fail(t.pos, "binary operator %q between two vectors is not supported: one side must be a number", t.val)
		}
		lhs = &Binary{Op: t.val, LHS: lhs, RHS: rhs}
	}
	return lhs, p.err
}

// isScalar reports whether e is a number (it has no series).
func isScalar(e Expr) bool {
	switch e := e.(type) {
	case *NumberLit:
		return true
	case *Paren:
		return isScalar(e.Expr)
	case *Unary:
		return isScalar(e.Expr)
	case *Binary:
		return isScalar(e.LHS) && isScalar(e.RHS)
	}
	return false
}

func (p *parser) unary() (Expr, error) {
	if p.tok.kind == tOp && (p.tok.val == "-" || p.tok.val == "+") {
		neg := p.tok.val == "-"
		p.next()
		e, err := p.expr(precedence("*")) // -a^b is -(a^b)
		if err != nil {
			return nil, err
		}
		if neg {
			if n, ok := e.(*NumberLit); ok {
				return &NumberLit{Val: -n.Val}, nil
			}
			return &Unary{Expr: e}, nil
		}
		return e, nil
	}
	e, err := p.primary()
	if err != nil {
		return nil, err
	}
	return e, p.suffixes()
}

// suffixes refuses what may follow an expression in PromQL but not in the
// subset: offset, @ and subqueries.
func (p *parser) suffixes() error {
	switch {
	case p.err != nil:
		return p.err
	case p.tok.kind == tIdent && p.tok.val == "offset", p.tok.kind == tOp && p.tok.val == "@":
		return p.fail(p.tok.pos, "%q modifiers are not supported", p.tok.val)
	case p.tok.kind == tLBracket:
		return p.fail(p.tok.pos, "subqueries and ranges of expressions are not supported: a range [d] follows a vector selector")
	}
	return nil
}

func (p *parser) primary() (Expr, error) {
	t := p.tok
	switch t.kind {
	case tNumber:
		p.next()
		v, err := strconv.ParseFloat(t.val, 64)
		if err != nil && !strings.Contains(err.Error(), "range") {
			return nil, p.fail(t.pos, "bad number %q", t.val)
		}
		return &NumberLit{Val: v}, nil
	case tDuration:
		return nil, p.fail(t.pos, "unexpected duration %q outside a range [d]", t.val)
	case tString:
		return nil, p.fail(t.pos, "string literals are not supported")
	case tLParen:
		p.next()
		e, err := p.expr(0)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, `")"`); err != nil {
			return nil, err
		}
		return &Paren{Expr: e}, nil
	case tLBrace:
		return p.selector("", t.pos)
	case tIdent:
		name := t.val
		switch {
		case strings.EqualFold(name, "inf"):
			p.next()
			return &NumberLit{Val: math.Inf(1)}, nil
		case strings.EqualFold(name, "nan"):
			p.next()
			return &NumberLit{Val: math.NaN()}, nil
		case slices.Contains(Aggregations, name) || slices.Contains(unsupportedAggs, name):
			return p.aggregate()
		}
		p.next()
		if p.tok.kind == tLParen {
			return p.call(name, t.pos)
		}
		if slices.Contains([]string{"by", "without", "offset", "bool", "on", "ignoring", "group_left", "group_right", "and", "or", "unless"}, name) {
			return nil, p.fail(t.pos, "unexpected keyword %q", name)
		}
		return p.selector(name, t.pos)
	}
	if p.err != nil {
		return nil, p.err
	}
	return nil, p.unexpected("an expression")
}

func (p *parser) call(name string, pos int) (Expr, error) {
	if !slices.Contains(Functions, name) {
		return nil, p.fail(pos, "function %q is not supported: molen answers %s", name, strings.Join(Functions, ", "))
	}
	p.next() // (
	argPos := p.tok.pos
	arg, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	vs, ok := arg.(*VectorSelector)
	if !ok || vs.Range == 0 {
		return nil, p.fail(argPos, "%s() takes a range vector selector like metric[5m]", name)
	}
	if p.tok.kind == tComma {
		return nil, p.fail(p.tok.pos, "%s() takes one argument", name)
	}
	if _, err := p.expect(tRParen, `")"`); err != nil {
		return nil, err
	}
	return &Call{Func: name, Arg: vs}, nil
}

func (p *parser) aggregate() (Expr, error) {
	t := p.tok
	if slices.Contains(unsupportedAggs, t.val) {
		return nil, p.fail(t.pos, "aggregation %q is not supported: molen answers %s", t.val, strings.Join(Aggregations, ", "))
	}
	p.next()
	a := &Aggregate{Op: t.val}
	grouped := false
	if p.tok.kind == tIdent && (p.tok.val == "by" || p.tok.val == "without") {
		if err := p.grouping(a); err != nil {
			return nil, err
		}
		grouped = true
	}
	if _, err := p.expect(tLParen, `"(" after `+t.val); err != nil {
		return nil, err
	}
	argPos := p.tok.pos
	e, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if isScalar(e) {
		return nil, p.fail(argPos, "%s() takes a vector, not a number", t.val)
	}
	if vs, ok := e.(*VectorSelector); ok && vs.Range != 0 {
		return nil, p.fail(argPos, "%s() takes an instant vector: apply a function such as avg_over_time to the range", t.val)
	}
	if p.tok.kind == tComma {
		return nil, p.fail(p.tok.pos, "%s() takes one argument", t.val)
	}
	if _, err := p.expect(tRParen, `")"`); err != nil {
		return nil, err
	}
	a.Expr = e
	if p.tok.kind == tIdent && (p.tok.val == "by" || p.tok.val == "without") {
		if grouped {
			return nil, p.fail(p.tok.pos, "%s has a grouping already", t.val)
		}
		if err := p.grouping(a); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (p *parser) grouping(a *Aggregate) error {
	a.Without = p.tok.val == "without"
	p.next()
	if _, err := p.expect(tLParen, `"(" after by or without`); err != nil {
		return err
	}
	a.Grouping = []string{}
	for p.tok.kind != tRParen {
		t, err := p.expect(tIdent, "a label name")
		if err != nil {
			return err
		}
		if !validLabelName(t.val) {
			return p.fail(t.pos, "invalid label name %q", t.val)
		}
		a.Grouping = append(a.Grouping, t.val)
		if p.tok.kind != tComma {
			break
		}
		p.next()
	}
	_, err := p.expect(tRParen, `"," or ")"`)
	return err
}

func validLabelName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isAlpha(s[i]) && !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// selector parses the rest of a vector selector after its metric name
// (which may be empty).
func (p *parser) selector(name string, pos int) (Expr, error) {
	vs := &VectorSelector{}
	if name != "" {
		m, _ := NewMatcher(MatchEqual, MetricName, name)
		vs.Matchers = append(vs.Matchers, m)
	}
	if p.tok.kind == tLBrace {
		p.next()
		for p.tok.kind != tRBrace {
			lt, err := p.expect(tIdent, "a label name")
			if err != nil {
				return nil, err
			}
			if !validLabelName(lt.val) {
				return nil, p.fail(lt.pos, "invalid label name %q", lt.val)
			}
			op := p.tok
			if op.kind != tOp || !slices.Contains([]string{"=", "!=", "=~", "!~"}, op.val) {
				return nil, p.unexpected("=, !=, =~ or !~")
			}
			p.next()
			vt, err := p.expect(tString, "a quoted label value")
			if err != nil {
				return nil, err
			}
			typ := map[string]MatchType{"=": MatchEqual, "!=": MatchNotEqual, "=~": MatchRegexp, "!~": MatchNotRegexp}[op.val]
			if lt.val == MetricName && name != "" {
				return nil, p.fail(lt.pos, "metric name given twice")
			}
			m, err := NewMatcher(typ, lt.val, vt.val)
			if err != nil {
				return nil, p.fail(vt.pos, "%v", err)
			}
			vs.Matchers = append(vs.Matchers, m)
			if p.tok.kind != tComma {
				break
			}
			p.next()
		}
		if _, err := p.expect(tRBrace, `"," or "}"`); err != nil {
			return nil, err
		}
	}
	if !slices.ContainsFunc(vs.Matchers, func(m *Matcher) bool { return !m.Matches("") }) {
		return nil, p.fail(pos, "vector selector must contain at least one non-empty matcher")
	}
	if p.tok.kind == tLBracket {
		p.next()
		dt := p.tok
		if dt.kind == tNumber && p.err == nil {
			return nil, p.fail(dt.pos, "range %q needs a unit: s, m, h, d, w or y", dt.val)
		}
		if _, err := p.expect(tDuration, "a duration like 5m"); err != nil {
			return nil, err
		}
		d, err := ParseDuration(dt.val)
		if err != nil || d <= 0 {
			return nil, p.fail(dt.pos, "bad range %q: want a positive duration like 5m", dt.val)
		}
		if p.tok.kind == tOp && p.tok.val == ":" {
			return nil, p.fail(p.tok.pos, "subqueries are not supported")
		}
		if _, err := p.expect(tRBracket, `"]"`); err != nil {
			return nil, err
		}
		vs.Range = d
	}
	return vs, nil
}

// ParseDuration parses a Prometheus duration: one or more of a number and
// a unit (y, w, d, h, m, s, ms), largest first, like 1h30m.
func ParseDuration(s string) (time.Duration, error) {
	units := []struct {
		name string
		d    time.Duration
	}{{"y", 365 * 24 * time.Hour}, {"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}}
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	last := -1
	for s != "" {
		i := 0
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == 0 || i > 12 {
			return 0, fmt.Errorf("bad duration")
		}
		n, _ := strconv.ParseInt(s[:i], 10, 64)
		s = s[i:]
		u := -1
		for j, un := range units {
			if strings.HasPrefix(s, un.name) && (un.name != "m" || !strings.HasPrefix(s, "ms")) {
				u = j
				break
			}
		}
		if u < 0 || u <= last {
			return 0, fmt.Errorf("bad duration unit")
		}
		last = u
		s = s[len(units[u].name):]
		if n > int64(math.MaxInt64/units[u].d) || total > math.MaxInt64-time.Duration(n)*units[u].d {
			return 0, fmt.Errorf("duration out of range")
		}
		total += time.Duration(n) * units[u].d
	}
	return total, nil
}
