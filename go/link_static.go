//go:build packr_static && !packr_dev

package packr

// -tags packr_static: link the installed libpackr.a into the binary (see link.go).
// packr-static.pc, installed beside packr.pc, names the archive by its path (so the
// linker cannot pick libpackr.so instead) and the system libraries it needs.

// #cgo pkg-config: packr-static
import "C"
