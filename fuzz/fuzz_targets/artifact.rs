//! Artifacts against damage and forgery: the input edits a real artifact (of a fixed module,
//! with the checksum or signed with a key) by flips, overwrites, truncation and appended
//! bytes, or replaces it with its own bytes, and hands it to `packr_module_deserialize`
//! (or `_keyed`, with the right key, another key or none), and now and then to a cache as
//! the file of that module. Anything but the intact artifact must be `PACKR_ERR_ARTIFACT`
//! (the cache: a recompile that works, counted as rejected); the intact one must load and
//! run.

#![no_main]

use std::ffi::CString;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use packr_fuzz::api::*;
use packr_fuzz::*;

const WAT: &str = r#"(module (memory (export "memory") 1)
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))"#;
const KEY: &[u8] = b"the fuzzer's own sixteen-byte key";
const OTHER_KEY: &[u8] = b"and another key, quite different";

struct Fixture {
    runtime: Shared<packr_runtime>,
    /// The artifact with the checksum, and signed with KEY.
    plain: Vec<u8>,
    signed: Vec<u8>,
    dir: std::path::PathBuf,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn artifact(module: *const packr_module, key: Option<&[u8]>) -> Vec<u8> {
    let (_, bytes) = with_out::<packr_bytes>("packr_module_serialize", &[PACKR_OK], |out| unsafe {
        match key {
            Some(k) => packr_module_serialize_keyed(module, k.as_ptr(), k.len(), out),
            None => packr_module_serialize(module, out),
        }
    });
    let mut bytes = bytes.expect("serialized");
    let copy = unsafe { std::slice::from_raw_parts(bytes.data, bytes.len) }.to_vec();
    unsafe { packr_bytes_free(&mut bytes) };
    copy
}

fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        // Compiling on the calling thread (fuzz_config), so a miss warms no worker threads.
        let runtime = standard_runtime(1 << 20);
        let module = make("packr_module_load", &[PACKR_OK], |out| unsafe { packr_module_load(runtime, WAT.as_ptr(), WAT.len(), out) }).unwrap();
        let fixture = Fixture {
            runtime: Shared(runtime),
            plain: artifact(module, None),
            signed: artifact(module, Some(KEY)),
            dir: std::env::temp_dir().join(format!("packr-fuzz-artifact-{}", std::process::id())),
        };
        unsafe { packr_module_free(module) };
        fixture
    })
}

#[derive(Arbitrary, Debug)]
enum Edit {
    Flip { at: u32, mask: u8 },
    Set { at: u32, value: u8 },
    Truncate { len: u32 },
    Append { bytes: Vec<u8> },
    /// Overwrites the trailer's field at `field` (0..128) with `bytes`.
    Trailer { at: u8, bytes: Vec<u8> },
}

#[derive(Arbitrary, Debug)]
enum Base {
    Plain,
    Signed,
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Check {
    None,
    Key,
    OtherKey,
}

fn add(module: *const packr_module) {
    let instance = make("packr_module_instantiate", &[PACKR_OK], |out| unsafe { packr_module_instantiate(module, out) }).unwrap();
    let args = [i32_val(2), i32_val(40)];
    let mut out = result_slots(1);
    ok("packr_instance_call", unsafe { packr_instance_call(instance, c"add".as_ptr(), args.as_ptr(), 2, out.as_mut_ptr(), 1) });
    assert_eq!(unsafe { out[0].of.i32 }, 42);
    unsafe { packr_instance_free(instance) };
}

fn i32_val(v: i32) -> packr_val {
    packr_val { kind: PACKR_I32, of: packr_val_union { i32: v } }
}

fn run(u: &mut Unstructured) -> arbitrary::Result<()> {
    let f = fixture();
    let base: Base = u.arbitrary()?;
    let edits: Vec<Edit> = u.arbitrary()?;
    let check: Check = u.arbitrary()?;
    let through_cache = u.ratio(1, 8)?;
    let mut bytes = match base {
        Base::Plain => f.plain.clone(),
        Base::Signed => f.signed.clone(),
        Base::Raw(raw) => raw,
    };
    for edit in edits.into_iter().take(8) {
        let len = bytes.len();
        match edit {
            Edit::Flip { at, mask } if len > 0 => bytes[at as usize % len] ^= mask,
            Edit::Set { at, value } if len > 0 => bytes[at as usize % len] = value,
            Edit::Truncate { len: to } => bytes.truncate(to as usize % (len + 1)),
            Edit::Append { bytes: more } => bytes.extend_from_slice(&more),
            Edit::Trailer { at, bytes: field } if len >= 128 => {
                let start = len - 128 + (at as usize % 128);
                let n = field.len().min(len - start);
                bytes[start..start + n].copy_from_slice(&field[..n]);
            }
            _ => {}
        }
    }
    let key = match check {
        Check::None => None,
        Check::Key => Some(KEY),
        Check::OtherKey => Some(OTHER_KEY),
    };
    let intact = (bytes == f.plain && key.is_none()) || (bytes == f.signed && key == Some(KEY));
    let expect: &[packr_status] = if intact { &[PACKR_OK] } else { &[PACKR_ERR_ARTIFACT] };
    let module = make("packr_module_deserialize", expect, |out| unsafe {
        match key {
            Some(k) => packr_module_deserialize_keyed(f.runtime.0, k.as_ptr(), k.len(), bytes.as_ptr(), bytes.len(), out),
            None => packr_module_deserialize(f.runtime.0, bytes.as_ptr(), bytes.len(), out),
        }
    });
    if let Some(module) = module {
        add(module);
        unsafe { packr_module_free(module) };
    }
    if through_cache {
        cache_load(f, &bytes, key, intact);
    }
    Ok(())
}

/// Puts `bytes` where a cache with `key` looks for WAT's artifact, then loads WAT through it.
fn cache_load(f: &Fixture, bytes: &[u8], key: Option<&[u8]>, intact: bool) {
    let _ = std::fs::remove_dir_all(&f.dir);
    let dir = CString::new(f.dir.to_str().unwrap()).unwrap();
    let options = make("packr_cache_options_new", &[PACKR_OK], |out| unsafe { packr_cache_options_new(out) }).unwrap();
    if let Some(k) = key {
        ok("packr_cache_options_set_key", unsafe { packr_cache_options_set_key(options, k.as_ptr(), k.len()) });
    }
    let cache = make("packr_cache_open_with", &[PACKR_OK], |out| unsafe { packr_cache_open_with(dir.as_ptr(), options, out) }).unwrap();
    unsafe { packr_cache_options_free(options) };
    // The first load stores the right artifact and names the file; then the input takes its place.
    let first = make("packr_cache_load", &[PACKR_OK], |out| unsafe { packr_cache_load(cache, f.runtime.0, WAT.as_ptr(), WAT.len(), out) }).unwrap();
    unsafe { packr_module_free(first) };
    let file = std::fs::read_dir(&f.dir).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|e| e == "packr")).unwrap();
    std::fs::remove_file(&file).unwrap();
    std::fs::write(&file, bytes).unwrap();
    let module = make("packr_cache_load", &[PACKR_OK], |out| unsafe { packr_cache_load(cache, f.runtime.0, WAT.as_ptr(), WAT.len(), out) }).unwrap();
    add(module);
    unsafe { packr_module_free(module) };
    let (_, stats) = with_out::<packr_cache_stats>("packr_cache_get_stats", &[PACKR_OK], |out| unsafe { packr_cache_get_stats(cache, out) });
    let stats = stats.unwrap();
    // The intact artifact for this cache's key is a hit; anything else a rejection.
    assert_eq!((stats.hits, stats.rejected), if intact { (1, 0) } else { (0, 1) }, "{stats:?}");
    unsafe { packr_cache_free(cache) };
    let _ = std::fs::remove_dir_all(&f.dir);
}

fuzz_target!(|data: &[u8]| {
    leak_checked(|| {
        let _ = run(&mut Unstructured::new(data));
    });
});
