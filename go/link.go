package packr

// How the package links packr's C library: one of three build modes, chosen by build tag.
// The header, packr.h, is a copy inside this module (identical to the repository's
// include/packr.h, which TestHeaderCopy checks), so every mode compiles against the header
// that ships with this package; only the library comes from outside.
//
//   - no tag (link_pkgconfig.go): an installed packr, found through pkg-config
//     (PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig after `make install PREFIX=$PREFIX`). The
//     binary links libpackr.so.0 and finds it at run time through the run path packr.pc
//     puts in its Libs.
//   - -tags packr_static (link_static.go): the same installed packr, but its libpackr.a is
//     linked into the binary, with the system libraries it needs, through packr-static.pc
//     (installed beside packr.pc); the binary needs no libpackr.so at run time.
//   - -tags packr_dev (link_dev.go): the library this repository builds
//     (cargo build --release, in ../target/release), with a run path to it, for the
//     project's own tests. It takes precedence over packr_static.

// shim.h and packr.h live beside this file.

// #cgo CFLAGS: -I${SRCDIR}
import "C"
