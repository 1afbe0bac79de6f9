package sqlpolicy

import (
	"fmt"
	"strings"
)

// tokenKind is what a token of a statement is.
type tokenKind uint8

const (
	word       tokenKind = iota // an unquoted identifier or keyword
	quotedName                  // a quoted identifier: "x", and in SQLite `x` and [x]
	literal                     // a string, blob, bit string or number
	param                       // a bound parameter ($1) or an SQLite variable
	punct                       // one byte of punctuation or of an operator
)

// token is one token of a statement. Comments and white space are not
// tokens.
type token struct {
	kind tokenKind
	// text is, for a word, the word in lower case; for a quoted name, the
	// name with its quotes removed, in lower case; for an SQLite string
	// literal whose text could be a name, that text in lower case; for
	// punctuation, the byte. Empty for other literals and for parameters.
	text string
	pos  int // byte offset in the statement
}

// lex splits a statement into tokens the way d's own tokenizer does, for
// comments, string literals, quoted identifiers and parameters: a name
// the policy refuses must not hide from it in text the database reads as
// code. Where the two tokenizers differ on text the database accepts, the
// check could be bypassed, so each rule below follows the engine's
// (PostgreSQL's scan.l, SQLite's tokenize.c). Beyond those, the lexer may
// split more finely than the engine (a number followed by letters is two
// tokens here), which can only make it see more names, not fewer.
func lex(d Dialect, s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		start := i
		switch {
		case c == 0:
			// SQLite stops reading at a NUL byte; PostgreSQL refuses it.
			return nil, fmt.Errorf("a NUL character at character %d", i+1)
		case isSpace(c):
			i++
		case d == SQLite && strings.HasPrefix(s[i:], byteOrderMark):
			// SQLite reads a UTF-8 byte order mark anywhere between tokens
			// as white space.
			i += len(byteOrderMark)
		case c == '-' && at(s, i+1) == '-':
			i = lineCommentEnd(d, s, i)
		case c == '/' && at(s, i+1) == '*':
			end, err := blockCommentEnd(d, s, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '\'':
			end, err := literalEnd(d, s, i, i+1, plainString)
			if err != nil {
				return nil, err
			}
			tok := token{kind: literal, pos: start}
			if text := s[i+1 : end-1]; d == SQLite && isName(text) {
				// SQLite reads a string where only a name fits as that
				// name: FROM 'sqlite_dbpage' is the table.
				tok.text = strings.ToLower(text)
			}
			toks, i = append(toks, tok), end
		case (c == 'x' || c == 'X') && at(s, i+1) == '\'',
			d == Postgres && (c == 'b' || c == 'B') && at(s, i+1) == '\'':
			// SQLite blobs and PostgreSQL bit strings end at the next
			// quote: a doubled quote is not an escape in them.
			end, err := literalEnd(d, s, i, i+2, bitString)
			if err != nil {
				return nil, err
			}
			toks, i = append(toks, token{kind: literal, pos: start}), end
		case d == Postgres && (c == 'e' || c == 'E') && at(s, i+1) == '\'':
			end, err := literalEnd(d, s, i, i+2, escapeString)
			if err != nil {
				return nil, err
			}
			toks, i = append(toks, token{kind: literal, pos: start}), end
		case d == Postgres && (c == 'u' || c == 'U') && at(s, i+1) == '&' && at(s, i+2) == '"':
			// U&"…" spells a name with escapes (U&"pg\005fread_file"):
			// refused rather than decoded.
			return nil, fmt.Errorf("a Unicode-escaped identifier (U&\"…\") at character %d: write the name plainly", i+1)
		case c == '"' || d == SQLite && c == '`':
			end, err := quotedEnd(s, i, c)
			if err != nil {
				return nil, err
			}
			name := strings.ReplaceAll(s[i+1:end-1], string([]byte{c, c}), string(c))
			toks, i = append(toks, token{kind: quotedName, text: strings.ToLower(name), pos: start}), end
		case d == SQLite && c == '[':
			close := strings.IndexByte(s[i+1:], ']')
			if close < 0 {
				return nil, fmt.Errorf("unterminated [identifier] starting at character %d", i+1)
			}
			end := i + 1 + close + 1
			toks, i = append(toks, token{kind: quotedName, text: strings.ToLower(s[i+1 : end-1]), pos: start}), end
		case isDigit(c) || c == '.' && isDigit(at(s, i+1)):
			toks, i = append(toks, token{kind: literal, pos: start}), numberEnd(s, i)
		case isNameStart(c):
			end := i + 1
			for end < len(s) && isNameByte(s[end]) {
				end++
			}
			toks, i = append(toks, token{kind: word, text: strings.ToLower(s[i:end]), pos: start}), end
		case d == Postgres && c == '$':
			tok, end, err := pgDollar(s, i)
			if err != nil {
				return nil, err
			}
			toks, i = append(toks, tok), end
		case d == SQLite && (c == '$' || c == '@' || c == ':' || c == '#'):
			toks, i = append(toks, token{kind: param, pos: start}), sqliteVariableEnd(s, i)
		case d == SQLite && c == '?':
			end := i + 1
			for end < len(s) && isDigit(s[end]) {
				end++
			}
			toks, i = append(toks, token{kind: param, pos: start}), end
		default:
			toks, i = append(toks, token{kind: punct, text: string(c), pos: start}), i+1
		}
	}
	return toks, nil
}

// byteOrderMark is the UTF-8 byte order mark.
const byteOrderMark = "\xef\xbb\xbf"

// lineCommentEnd returns the index after the -- comment at s[i]. PostgreSQL
// ends it at a carriage return too; SQLite only at a line feed.
func lineCommentEnd(d Dialect, s string, i int) int {
	stop := "\n"
	if d == Postgres {
		stop = "\n\r"
	}
	if j := strings.IndexAny(s[i:], stop); j >= 0 {
		return i + j
	}
	return len(s)
}

// blockCommentEnd returns the index after the /* comment at s[i].
// PostgreSQL's block comments nest; SQLite's end at the first */, or at the
// end of the text.
func blockCommentEnd(d Dialect, s string, i int) (int, error) {
	if d == SQLite {
		if j := strings.Index(s[i+2:], "*/"); j >= 0 {
			return i + 2 + j + 2, nil
		}
		return len(s), nil
	}
	depth := 0
	for j := i; j < len(s); {
		switch {
		case s[j] == '/' && at(s, j+1) == '*':
			depth++
			j += 2
		case s[j] == '*' && at(s, j+1) == '/':
			depth--
			j += 2
			if depth == 0 {
				return j, nil
			}
		default:
			j++
		}
	}
	return 0, fmt.Errorf("unterminated comment starting at character %d", i+1)
}

// literalKind is how a quoted literal treats quotes and backslashes.
type literalKind uint8

const (
	plainString  literalKind = iota // 'it''s': a doubled quote is a quote
	bitString                       // X'…', B'…': ends at the next quote
	escapeString                    // E'it\'s' or E'it''s' (PostgreSQL)
)

// literalEnd returns the index after the literal that starts at s[start]
// and whose text begins at s[from]. PostgreSQL continues a literal whose
// closing quote is followed by white space holding a line break and another
// quote ('a'\n'b' is 'ab'), in the same kind: an E'…' string stays one
// across the break.
func literalEnd(d Dialect, s string, start, from int, kind literalKind) (int, error) {
	for j := from; j < len(s); j++ {
		switch {
		case kind == escapeString && s[j] == '\\':
			j++ // the escaped byte, a quote included
		case s[j] == '\'':
			if kind != bitString && at(s, j+1) == '\'' {
				j++
				continue
			}
			if d == Postgres {
				if next, ok := pgContinuation(s, j+1); ok {
					j = next // the quote that continues the literal
					continue
				}
			}
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated string starting at character %d", start+1)
}

// pgContinuation reports whether the text from s[j] continues a PostgreSQL
// literal (white space with a line break, -- comments allowed, then a quote)
// and returns the index of that quote.
func pgContinuation(s string, j int) (int, bool) {
	newline := false
	for j < len(s) {
		switch c := s[j]; {
		case c == '\n' || c == '\r':
			newline = true
			j++
		case isSpace(c):
			j++
		case c == '-' && at(s, j+1) == '-':
			j = lineCommentEnd(Postgres, s, j)
		default:
			return j, newline && c == '\''
		}
	}
	return j, false
}

// quotedEnd returns the index after the identifier quoted with q that
// starts at s[i]; a doubled q stands for itself.
func quotedEnd(s string, i int, q byte) (int, error) {
	for j := i + 1; j < len(s); j++ {
		if s[j] == q {
			if at(s, j+1) == q {
				j++
				continue
			}
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated %c-quoted identifier starting at character %d", q, i+1)
}

// numberEnd returns the index after the number at s[i]: digits, a
// fraction, an exponent. Letters after it start a new token.
func numberEnd(s string, i int) int {
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if at(s, j) == '.' {
		j++
		for j < len(s) && isDigit(s[j]) {
			j++
		}
	}
	if c := at(s, j); c == 'e' || c == 'E' {
		k := j + 1
		if c := at(s, k); c == '+' || c == '-' {
			k++
		}
		if isDigit(at(s, k)) {
			for j = k; j < len(s) && isDigit(s[j]); j++ {
			}
		}
	}
	return j
}

// pgDollar reads what starts with $ in PostgreSQL: a parameter ($1) or a
// dollar-quoted string ($$…$$, $tag$…$tag$), which ends at the first
// occurrence of its opening delimiter.
func pgDollar(s string, i int) (token, int, error) {
	if isDigit(at(s, i+1)) {
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		return token{kind: param, pos: i}, j, nil
	}
	j := i + 1
	if j < len(s) && isNameStart(s[j]) {
		for j < len(s) && (isNameStart(s[j]) || isDigit(s[j])) {
			j++
		}
	}
	if at(s, j) != '$' {
		return token{kind: punct, text: "$", pos: i}, i + 1, nil
	}
	delim := s[i : j+1]
	close := strings.Index(s[j+1:], delim)
	if close < 0 {
		return token{}, 0, fmt.Errorf("unterminated %s-quoted string starting at character %d", delim, i+1)
	}
	return token{kind: literal, pos: i}, j + 1 + close + len(delim), nil
}

// sqliteVariableEnd returns the index after the SQLite variable at s[i]
// ($name, @name, :name, #name). As in SQLite, a name may be followed by
// "::" pairs and by a parenthesised suffix that runs to the next ')' or
// white space, quotes included: $a(') is one token.
func sqliteVariableEnd(s string, i int) int {
	n := 0
	j := i + 1
	for ; j < len(s); j++ {
		c := s[j]
		switch {
		case isNameByte(c):
			n++
		case c == '(' && n > 0:
			j++
			for j < len(s) && !isSpace(s[j]) && s[j] != ')' {
				j++
			}
			if at(s, j) == ')' {
				j++
			}
			return j
		case c == ':' && at(s, j+1) == ':':
			j++
		default:
			return j
		}
	}
	return j
}

// isName reports whether s could be written as an unquoted name.
func isName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

// at returns s[i], or 0 past the end.
func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isNameStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c >= 0x80
}

// isNameByte reports whether c continues an unquoted name: both dialects
// allow $ after the first byte.
func isNameByte(c byte) bool { return isNameStart(c) || isDigit(c) || c == '$' }

// isSpace is white space in either dialect.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
