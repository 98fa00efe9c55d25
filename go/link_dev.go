//go:build packr_dev

package packr

// -tags packr_dev: the library this repository builds (cargo build --release), for the
// project's own tests (see link.go). The run path lets `go test` find libpackr.so without
// LD_LIBRARY_PATH.

// #cgo LDFLAGS: -L${SRCDIR}/../target/release -lpackr -Wl,-rpath,${SRCDIR}/../target/release
import "C"
