//! Gives libpackr.so its SONAME, libpackr.so.<major>, so a program linked against it records
//! that name and keeps working across compatible releases (`make install` makes the links).

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libpackr.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
