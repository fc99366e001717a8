//go:build tools

// Package tools pins the tool built by ../ensure.sh.
package tools

import _ "github.com/rhysd/actionlint/cmd/actionlint"
