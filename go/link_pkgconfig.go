//go:build !packr_dev && !packr_static

package packr

// The default: an installed packr through pkg-config (see link.go). packr.pc's Libs carry
// the run path to libpackr.so.0.

// #cgo pkg-config: packr
import "C"
