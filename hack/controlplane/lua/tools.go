//go:build tools

// Package tools pins the interpreter built by ../ensure.sh.
package tools

import _ "github.com/yuin/gopher-lua/cmd/glua"
