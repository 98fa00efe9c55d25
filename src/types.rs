//! Types and signatures shared by a module's exports and the host's definitions: value and
//! extern kinds, function signatures, and the export table looked up once per compile.

use std::collections::HashMap;
use std::ffi::c_char;

use wasmtime::{Engine, ExternType, FuncType, ModuleExport, Mutability};

use crate::error::{Error, Result, PACKR_ERR_NOT_FOUND, PACKR_ERR_TYPE_MISMATCH};
use crate::val::{is_carried, kind_name, kind_of, packr_val, packr_valkind, val_type};

/// The kind of an import or export.
///
/// A fixed-width integer; hosts should treat numbers they do not know as "other".
#[allow(non_camel_case_types)]
pub type packr_externkind = u32;

/// A function.
pub const PACKR_EXTERN_FUNC: packr_externkind = 0;
/// A global.
pub const PACKR_EXTERN_GLOBAL: packr_externkind = 1;
/// A table.
pub const PACKR_EXTERN_TABLE: packr_externkind = 2;
/// A linear memory.
pub const PACKR_EXTERN_MEMORY: packr_externkind = 3;
/// An exception tag.
pub const PACKR_EXTERN_TAG: packr_externkind = 4;

/// The parameter and result kinds of a function. The arrays belong to whatever handle
/// described it (a module, an instance or a func) and stay valid while that handle lives. A
/// kind may be one a `packr_val` cannot carry (references); calling such a function fails
/// with `PACKR_ERR_TYPE_MISMATCH`.
#[repr(C)]
pub struct packr_func_signature {
    pub params: *const packr_valkind,
    pub nparams: usize,
    pub results: *const packr_valkind,
    pub nresults: usize,
}

pub(crate) fn extern_kind(ty: &ExternType) -> packr_externkind {
    match ty {
        ExternType::Func(_) => PACKR_EXTERN_FUNC,
        ExternType::Global(_) => PACKR_EXTERN_GLOBAL,
        ExternType::Table(_) => PACKR_EXTERN_TABLE,
        ExternType::Memory(_) => PACKR_EXTERN_MEMORY,
        ExternType::Tag(_) => PACKR_EXTERN_TAG,
    }
}

pub(crate) fn extern_kind_name(kind: packr_externkind) -> &'static str {
    match kind {
        PACKR_EXTERN_FUNC => "function",
        PACKR_EXTERN_GLOBAL => "global",
        PACKR_EXTERN_TABLE => "table",
        PACKR_EXTERN_MEMORY => "memory",
        _ => "tag",
    }
}

/// A name stored with a trailing NUL so C can read it either way.
pub(crate) struct Name(Box<str>);

impl Name {
    pub(crate) fn new(text: &str) -> Self {
        Name(format!("{text}\0").into_boxed_str())
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0[..self.0.len() - 1]
    }

    pub(crate) fn ptr(&self) -> *const c_char {
        self.0.as_ptr().cast()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len() - 1
    }
}

/// A function's parameter and result kinds.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Signature {
    params: Box<[packr_valkind]>,
    results: Box<[packr_valkind]>,
}

impl Signature {
    pub(crate) fn new(params: &[packr_valkind], results: &[packr_valkind]) -> Self {
        Signature { params: params.into(), results: results.into() }
    }

    pub(crate) fn of(ty: &FuncType) -> Self {
        Signature { params: ty.params().map(|t| kind_of(&t)).collect(), results: ty.results().map(|t| kind_of(&t)).collect() }
    }

    pub(crate) fn params(&self) -> &[packr_valkind] {
        &self.params
    }

    pub(crate) fn results(&self) -> &[packr_valkind] {
        &self.results
    }

    /// The first kind a `packr_val` cannot carry, if any.
    pub(crate) fn uncarried(&self) -> Option<packr_valkind> {
        self.params.iter().chain(self.results.iter()).copied().find(|k| !is_carried(*k))
    }

    /// The wasmtime type of a signature of carried kinds, for `engine`.
    pub(crate) fn func_type(&self, engine: &Engine) -> FuncType {
        FuncType::new(engine, self.params.iter().map(|k| val_type(*k)), self.results.iter().map(|k| val_type(*k)))
    }

    pub(crate) fn describe(&self) -> packr_func_signature {
        packr_func_signature {
            params: self.params.as_ptr(),
            nparams: self.params.len(),
            results: self.results.as_ptr(),
            nresults: self.results.len(),
        }
    }

    /// Checks a call's counts and argument kinds against this signature; `name` names the
    /// function in the message.
    #[inline]
    pub(crate) fn check_call(&self, name: &str, args: &[packr_val], nresults: usize) -> Result<()> {
        if args.len() != self.params.len() || nresults != self.results.len() {
            return Err(Error::new(
                PACKR_ERR_TYPE_MISMATCH,
                format!(
                    "`{name}` takes {} arguments and returns {} results; the call passed {} and {}",
                    self.params.len(),
                    self.results.len(),
                    args.len(),
                    nresults
                ),
            ));
        }
        for (i, (arg, kind)) in args.iter().zip(self.params.iter()).enumerate() {
            arg.check(*kind, "argument", i)?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Signature {
    /// `func(i32, i64) -> (f64)`, the way link errors print expected types.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |kinds: &[packr_valkind]| kinds.iter().map(|k| kind_name(*k)).collect::<Vec<_>>().join(", ");
        write!(f, "func({}) -> ({})", list(&self.params), list(&self.results))
    }
}

/// One export of a compiled module.
pub(crate) struct Export {
    pub(crate) name: Name,
    pub(crate) kind: packr_externkind,
    pub(crate) index: ModuleExport,
    /// For functions: the signature.
    signature: Option<Signature>,
    /// For functions: why packr values cannot carry the signature, if they cannot.
    uncallable: Option<String>,
    /// For globals: the value kind and whether it is mutable.
    global: Option<(packr_valkind, bool)>,
}

impl Export {
    pub(crate) fn name(&self) -> &str {
        self.name.as_str()
    }

    /// The signature of a function export that packr can call.
    #[inline]
    pub(crate) fn callable(&self) -> Result<&Signature> {
        let signature = self.function()?;
        match &self.uncallable {
            Some(why) => Err(Error::new(PACKR_ERR_TYPE_MISMATCH, why.clone())),
            None => Ok(signature),
        }
    }

    pub(crate) fn function(&self) -> Result<&Signature> {
        self.signature.as_ref().ok_or_else(|| self.not_a("function"))
    }

    pub(crate) fn expect_memory(&self) -> Result<()> {
        if self.kind == PACKR_EXTERN_MEMORY { Ok(()) } else { Err(self.not_a("memory")) }
    }

    /// A global's value kind and mutability.
    pub(crate) fn global(&self) -> Result<(packr_valkind, bool)> {
        self.global.ok_or_else(|| self.not_a("global"))
    }

    fn not_a(&self, wanted: &str) -> Error {
        Error::new(
            PACKR_ERR_TYPE_MISMATCH,
            format!("export `{}` is a {}, not a {wanted}", self.name(), extern_kind_name(self.kind)),
        )
    }
}

/// A module's exports, in the module's order, with a name index.
pub(crate) struct Exports {
    list: Vec<Export>,
    by_name: HashMap<Box<str>, usize>,
}

impl Exports {
    pub(crate) fn of(module: &wasmtime::Module) -> Self {
        let mut list = Vec::new();
        let mut by_name = HashMap::new();
        for export in module.exports() {
            let ty = export.ty();
            // Every export the module lists has an index; skip defensively if not.
            let Some(index) = module.get_export_index(export.name()) else { continue };
            let (mut signature, mut uncallable, mut global) = (None, None, None);
            match &ty {
                ExternType::Func(f) => {
                    let sig = Signature::of(f);
                    uncallable = sig.uncarried().map(|k| {
                        format!("export `{}` uses type {}, which packr values cannot carry", export.name(), kind_name(k))
                    });
                    signature = Some(sig);
                }
                ExternType::Global(g) => global = Some((kind_of(g.content()), g.mutability() == Mutability::Var)),
                _ => {}
            }
            by_name.insert(Box::from(export.name()), list.len());
            list.push(Export { name: Name::new(export.name()), kind: extern_kind(&ty), index, signature, uncallable, global });
        }
        Exports { list, by_name }
    }

    pub(crate) fn list(&self) -> &[Export] {
        &self.list
    }

    #[inline]
    pub(crate) fn get(&self, name: &str) -> Result<&Export> {
        self.position(name).map(|i| &self.list[i])
    }

    /// Where the export named `name` stands in `list()`.
    #[inline]
    pub(crate) fn position(&self, name: &str) -> Result<usize> {
        self.by_name
            .get(name)
            .copied()
            .ok_or_else(|| Error::new(PACKR_ERR_NOT_FOUND, format!("the module has no export named `{name}`")))
    }
}
