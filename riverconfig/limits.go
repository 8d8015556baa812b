package riverconfig

import (
	"fmt"

	"github.com/grafana/river/scanner"
	"github.com/grafana/river/token"
)

// Limits on what Parse analyses. A config sent to the webhook can be several
// MiB of anything: these keep one Parse bounded in stack, time and memory
// whatever the input, and are far above what agent configs need.
const (
	// MaxNesting bounds how deep a config nests: every block, bracket,
	// parenthesis, call, index, unary operator, binary operator and "." of
	// an expression is one level (a = [[1]] is 2 deep, a.b.c + 1 is 3). The
	// River parser and the analysis recurse once per level; a million
	// levels overflow the stack, which no recover catches.
	MaxNesting = 100
	// MaxComponents bounds the components analysed in one file; a file
	// with more is reported unverifiable (kind UnverifiableTooLarge), not
	// analysed. Rule evaluation is linear in components (about 60µs each,
	// BenchmarkEvaluateComponents in policy), but review time still grows
	// faster: every fix parses the file it leaves again, and fixes grow
	// with components. At 500, benchconfig.LargeComponents (50 fixes, one
	// per ten components) reviews in 1.4-2s on a busy two-core machine
	// (BenchmarkReviewLimits in review), within the webhook's request
	// timeout; past it the request timeout answers.
	MaxComponents = 500
	// MaxErrors bounds the syntax errors reported for one file: the first
	// ones, then one that counts the rest.
	MaxErrors = 10
)

// limits is what checkLimits found. When tooDeep is set, the rest is
// partial: the scan stopped there.
type limits struct {
	tooDeep    *Diagnostic
	components int
	// overComponents is the start of the first component past
	// MaxComponents.
	overComponents token.Position
	// errors are the first MaxErrors syntax errors, nErrors all of them.
	errors  []Diagnostic
	nErrors int
	// overErrors is where the first error past MaxErrors is.
	overErrors token.Position
}

// checkLimits measures src against MaxNesting, MaxComponents and MaxErrors
// without building a syntax tree. It walks the tokens of the River scanner
// (so strings and comments are skipped as the parser skips them) the way
// the River parser (github.com/grafana/river v0.3.0, parser/internal.go)
// does, error recovery included: recovery may skip a closing brace and go on
// parsing one level deeper, so counting brackets alone would let a config
// with balanced brackets nest a million levels. Its recursion stops at
// MaxNesting, so it cannot overflow itself. The errors it reports are the
// parser's (TestLimitsMatchParser holds it to that).
func checkLimits(filename string, src []byte) (l limits) {
	c := &limitChecker{file: token.NewFile(filename), l: &l}
	c.scan = scanner.New(c.file, src, func(pos token.Pos, msg string) {
		c.add(c.file.PositionFor(pos), "%s", msg)
	}, scanner.IncludeComments)
	defer func() {
		if r := recover(); r != nil {
			d, ok := r.(tooDeep)
			if !ok {
				panic(r)
			}
			pos := c.file.PositionFor(d.pos)
			l.tooDeep = &Diagnostic{
				File: filename, Line: pos.Line, Column: pos.Column,
				Message: fmt.Sprintf("the config nests more than %d levels deep here (blocks, brackets and operators count); modeguard does not analyse configs nested deeper than %d", MaxNesting, MaxNesting),
			}
		}
	}()
	c.next()
	c.parseBody(token.EOF, 0, bodyScope)
	return l
}

// limitChecker holds the state of one checkLimits call; its methods mirror
// the River parser's, without the syntax tree. Each parse method that reads
// an expression or a block takes the level of the node it reads and returns
// the node's height (0 for an identifier or a literal).
type limitChecker struct {
	file *token.File
	scan *scanner.Scanner
	l    *limits

	pos token.Pos
	tok token.Token
	lit string

	lastError token.Position
}

// tooDeep is the panic that ends a scan at the first node deeper than
// MaxNesting.
type tooDeep struct{ pos token.Pos }

// enter is called before reading the children of a node at level lvl.
func (c *limitChecker) enter(lvl int, pos token.Pos) { c.deep(lvl+1, pos) }

// deep stops the scan when a node reaches down to depth.
func (c *limitChecker) deep(depth int, pos token.Pos) {
	if depth > MaxNesting {
		panic(tooDeep{pos})
	}
}

// add records an error; the message is only formatted when it is kept.
func (c *limitChecker) add(pos token.Position, format string, args ...any) {
	c.l.nErrors++
	switch {
	case len(c.l.errors) < MaxErrors:
		c.l.errors = append(c.l.errors, Diagnostic{File: pos.Filename, Line: pos.Line, Column: pos.Column, Message: fmt.Sprintf(format, args...)})
	case c.l.nErrors == MaxErrors+1:
		c.l.overErrors = pos
	}
}

// The methods below follow the parser's of the same name.

func (c *limitChecker) next() {
	for {
		c.pos, c.tok, c.lit = c.scan.Scan()
		if c.tok != token.COMMENT {
			return
		}
	}
}

func (c *limitChecker) advance(to token.Token) {
	for c.tok != token.EOF {
		if c.tok == to {
			return
		}
		c.next()
	}
}

func (c *limitChecker) advanceAny(to map[token.Token]bool) {
	for c.tok != token.EOF {
		if to[c.tok] {
			return
		}
		c.next()
	}
}

func (c *limitChecker) expect(t token.Token) token.Token {
	tok := c.tok
	if tok != t {
		c.errorf("expected %s, got %s", t, c.tok)
	}
	c.next()
	return tok
}

func (c *limitChecker) errorf(format string, args ...any) {
	pos := c.file.PositionFor(c.pos)
	// The parser ignores an error on the line of the last one.
	if c.lastError.Line == pos.Line {
		return
	}
	c.lastError = pos
	c.add(pos, format, args...)
}

// Kinds of body, for counting components as Parse finds them.
const (
	bodyOther   = iota
	bodyScope   // the file, a declare body, a foreach template
	bodyForeach // a foreach body: its first template block is a scope
)

func (c *limitChecker) parseBody(until token.Token, lvl, kind int) int {
	h := 0
	template := false
	for c.tok != until && c.tok != token.EOF {
		h = max(h, c.parseStatement(lvl, kind, &template))
		if c.tok == until {
			break
		}
		if c.tok != token.TERMINATOR {
			c.errorf("expected %s, got %s", token.TERMINATOR, c.tok)
			c.consumeStatement()
		}
		c.next()
	}
	return h
}

func (c *limitChecker) consumeStatement() {
	var curly, brack, paren int
	for c.tok != token.EOF {
		switch c.tok {
		case token.LCURLY:
			curly++
		case token.RCURLY:
			curly--
		case token.LBRACK:
			brack++
		case token.RBRACK:
			brack--
		case token.LPAREN:
			paren++
		case token.RPAREN:
			paren--
		}
		if c.tok == token.TERMINATOR && curly <= 0 && brack <= 0 && paren <= 0 {
			return
		}
		c.next()
	}
}

func (c *limitChecker) parseStatement(lvl, kind int, template *bool) int {
	bn, ok := c.parseBlockName()
	if !ok {
		c.advance(token.IDENT)
		return 0
	}
	switch c.tok {
	case token.ASSIGN:
		c.next()
		if bn.fragments != 1 {
			c.add(bn.start.Position(), "%s", `attribute names may only consist of a single identifier with no "."`)
		} else if bn.labelPos != token.NoPos {
			c.add(bn.labelPos.Position(), "%s", "attribute names may not have labels")
		}
		return c.parseExpression(lvl)
	case token.LCURLY:
		c.enter(lvl, c.pos)
		child := c.classify(bn, kind, template)
		c.expect(token.LCURLY)
		h := c.parseBody(token.RCURLY, lvl+1, child)
		c.expect(token.RCURLY)
		return 1 + h
	default:
		if bn.fragments == 1 && bn.label == "" {
			c.errorf("expected attribute assignment or block body, got %s", c.tok)
		} else {
			c.errorf("expected block body, got %s", c.tok)
		}
		c.advance(token.IDENT)
		return 0
	}
}

// classify counts a block that Parse takes for a component (see scanBlock)
// and returns the kind of its body.
func (c *limitChecker) classify(bn blockName, kind int, template *bool) int {
	switch kind {
	case bodyForeach:
		if bn.name == "template" && !*template {
			*template = true
			return bodyScope
		}
		return bodyOther
	case bodyScope:
		switch {
		case bn.name == "declare":
			return bodyScope
		case bn.name == "foreach":
			return bodyForeach
		case bn.imports, configBlocks[bn.name]:
			return bodyOther
		}
		c.l.components++
		if c.l.components == MaxComponents+1 {
			c.l.overComponents = bn.start.Position()
		}
	}
	return bodyOther
}

// blockName is what the parser's blockName holds, minus the fragments:
// their count, and the name when it has at most two.
type blockName struct {
	name      string
	fragments int
	imports   bool // the first fragment is "import" and there are more
	label     string
	start     token.Pos
	labelPos  token.Pos
}

func (c *limitChecker) parseBlockName() (blockName, bool) {
	if c.tok != token.IDENT {
		c.errorf("expected identifier, got %s", c.tok)
		return blockName{}, false
	}
	bn := blockName{name: c.lit, fragments: 1, start: c.pos}
	first := c.lit
	c.next()
	for c.tok == token.DOT {
		c.next()
		if c.tok != token.IDENT {
			c.errorf("expected identifier, got %s", c.tok)
		}
		bn.fragments++
		bn.imports = first == "import"
		if bn.fragments == 2 {
			bn.name += "." + c.lit
		} else {
			bn.name = "" // no name Parse treats specially has more than two
		}
		c.next()
	}
	if c.tok != token.ASSIGN && c.tok != token.LCURLY {
		if c.tok == token.STRING {
			if c.lit[0] != '"' {
				c.errorf("expected block label to be a double quoted string, but got %q", c.lit)
			}
			if len(c.lit) > 2 {
				bn.label = c.lit[1 : len(c.lit)-1]
				if !scanner.IsValidIdentifier(bn.label) {
					c.errorf("expected block label to be a valid identifier, but got %q", bn.label)
				}
			}
			bn.labelPos = c.pos
		} else {
			c.errorf("expected block label, got %s", c.tok)
		}
		c.next()
	}
	return bn, true
}

func (c *limitChecker) parseExpression(lvl int) int { return c.parseBinOp(1, lvl) }

func (c *limitChecker) parseBinOp(inPrec, lvl int) int {
	h := c.parsePowExpr(lvl)
	for {
		pos, prec := c.pos, c.tok.BinaryPrecedence()
		if prec < inPrec {
			return h
		}
		c.next()
		h = 1 + max(h, c.parseBinOp(prec+1, lvl+1))
		c.deep(lvl+h, pos)
	}
}

func (c *limitChecker) parsePowExpr(lvl int) int {
	h := c.parseUnaryExpr(lvl)
	if c.tok == token.POW {
		pos := c.pos
		c.next()
		c.enter(lvl, pos)
		h = 1 + max(h, c.parsePowExpr(lvl+1))
		c.deep(lvl+h, pos)
	}
	return h
}

func (c *limitChecker) parseUnaryExpr(lvl int) int {
	if c.tok == token.NOT || c.tok == token.SUB {
		c.enter(lvl, c.pos)
		c.next()
		return 1 + c.parseUnaryExpr(lvl+1)
	}
	start := c.pos
	h := c.parsePrimaryExpr(lvl)
	for {
		pos := c.pos
		switch c.tok {
		case token.DOT:
			c.next()
			c.expect(token.IDENT)
			h++
			c.deep(lvl+h, pos)
		case token.LBRACK:
			c.enter(lvl, pos)
			c.expect(token.LBRACK)
			h = 1 + max(h, c.parseExpression(lvl+1))
			c.expect(token.RBRACK)
			c.deep(lvl+h, pos)
		case token.LPAREN:
			c.enter(lvl, pos)
			c.expect(token.LPAREN)
			if c.tok != token.RPAREN {
				h = max(h, c.parseExpressionList(token.RPAREN, lvl+1))
			}
			h++
			c.expect(token.RPAREN)
			c.deep(lvl+h, pos)
		case token.STRING, token.LCURLY:
			// A block written as a value: the parser reads its body to
			// report it.
			if c.tok == token.STRING {
				c.next()
			}
			if c.expect(token.LCURLY) != token.LCURLY {
				c.consumeStatement()
				return h
			}
			c.enter(lvl, pos)
			c.parseBody(token.RCURLY, lvl+1, bodyOther)
			if c.expect(token.RCURLY) != token.RCURLY {
				c.consumeStatement()
				return h
			}
			c.add(start.Position(), "%s", "cannot use a block as an expression")
		default:
			return h
		}
	}
}

func (c *limitChecker) parsePrimaryExpr(lvl int) int {
	pos := c.pos
	switch c.tok {
	case token.IDENT, token.STRING, token.NUMBER, token.FLOAT, token.BOOL, token.NULL:
		c.next()
		return 0
	case token.LPAREN:
		c.enter(lvl, pos)
		c.expect(token.LPAREN)
		h := c.parseExpression(lvl + 1)
		c.expect(token.RPAREN)
		return 1 + h
	case token.LBRACK:
		c.enter(lvl, pos)
		c.expect(token.LBRACK)
		h := 0
		if c.tok != token.RBRACK {
			h = c.parseExpressionList(token.RBRACK, lvl+1)
		}
		c.expect(token.RBRACK)
		return 1 + h
	case token.LCURLY:
		c.enter(lvl, pos)
		c.expect(token.LCURLY)
		h := 0
		if c.tok != token.RBRACK { // sic: the parser tests RBRACK here
			h = c.parseFieldList(token.RCURLY, lvl+1)
		}
		c.expect(token.RCURLY)
		return 1 + h
	}
	c.errorf("expected expression, got %s", c.tok)
	c.advanceAny(statementEnd)
	return 0
}

var statementEnd = map[token.Token]bool{
	token.TERMINATOR: true, token.RPAREN: true, token.RCURLY: true, token.RBRACK: true, token.COMMA: true,
}

func (c *limitChecker) parseExpressionList(until token.Token, lvl int) int {
	h := 0
	for c.tok != until && c.tok != token.EOF {
		h = max(h, c.parseExpression(lvl))
		if c.tok == until {
			break
		}
		if c.tok != token.COMMA {
			c.errorf("missing ',' in expression list")
		}
		c.next()
	}
	return h
}

func (c *limitChecker) parseFieldList(until token.Token, lvl int) int {
	h := 0
	for c.tok != until && c.tok != token.EOF {
		h = max(h, c.parseField(lvl))
		if c.tok == until {
			break
		}
		if c.tok != token.COMMA {
			c.errorf("missing ',' in field list")
		}
		c.next()
	}
	return h
}

func (c *limitChecker) parseField(lvl int) int {
	if c.tok == token.STRING || c.tok == token.IDENT {
		c.next()
	} else {
		c.errorf("expected field name (string or identifier), got %s", c.tok)
		c.advance(token.ASSIGN)
	}
	c.expect(token.ASSIGN)
	return c.parseExpression(lvl)
}
