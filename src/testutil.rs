//! Helpers for the Rust tests that drive the exported functions the way a host would.

use std::ffi::CStr;
use std::ptr;

use crate::error::{packr_last_error, PACKR_OK};
use crate::instance::{packr_instance, packr_instance_free, packr_module_instantiate};
use crate::module::{packr_module, packr_module_free, packr_module_load};
use crate::runtime::{packr_runtime, packr_runtime_free, packr_runtime_new};

pub fn last_error() -> String {
    unsafe { CStr::from_ptr(packr_last_error()) }.to_str().unwrap().to_owned()
}

/// Owns the handles a test makes and frees them at the end, as a careful host would.
#[derive(Default)]
pub struct Host {
    runtimes: Vec<*mut packr_runtime>,
    modules: Vec<*mut packr_module>,
    instances: Vec<*mut packr_instance>,
}

impl Host {
    pub fn runtime(&mut self) -> *mut packr_runtime {
        let mut rt = ptr::null_mut();
        assert_eq!(unsafe { packr_runtime_new(&mut rt) }, PACKR_OK, "{}", last_error());
        self.runtimes.push(rt);
        rt
    }

    /// A runtime made from a config that `change` sets up.
    pub fn runtime_with(&mut self, change: impl FnOnce(*mut crate::config::packr_config)) -> *mut packr_runtime {
        use crate::config::{packr_config_free, packr_config_new};
        let mut config = ptr::null_mut();
        assert_eq!(unsafe { packr_config_new(&mut config) }, PACKR_OK);
        change(config);
        let mut rt = ptr::null_mut();
        let status = unsafe { crate::runtime::packr_runtime_new_with_config(config, &mut rt) };
        unsafe { packr_config_free(config) };
        assert_eq!(status, PACKR_OK, "{}", last_error());
        self.keep_runtime(rt)
    }

    pub fn keep_runtime(&mut self, rt: *mut packr_runtime) -> *mut packr_runtime {
        self.runtimes.push(rt);
        rt
    }

    pub fn keep_module(&mut self, module: *mut packr_module) -> *mut packr_module {
        self.modules.push(module);
        module
    }

    pub fn load(&mut self, rt: *const packr_runtime, wat: &str) -> *mut packr_module {
        let mut module = ptr::null_mut();
        let status = unsafe { packr_module_load(rt, wat.as_ptr(), wat.len(), &mut module) };
        assert_eq!(status, PACKR_OK, "{}", last_error());
        self.keep_module(module)
    }

    pub fn instantiate(&mut self, module: *const packr_module) -> *mut packr_instance {
        let mut instance = ptr::null_mut();
        let status = unsafe { packr_module_instantiate(module, &mut instance) };
        assert_eq!(status, PACKR_OK, "{}", last_error());
        self.instances.push(instance);
        instance
    }
}

impl Host {
    /// A runtime serving `host`'s definitions (the host stays the caller's).
    pub fn runtime_serving(&mut self, host: *const crate::host::packr_host) -> *mut packr_runtime {
        let base = self.runtime();
        let mut rt = ptr::null_mut();
        let status = unsafe { crate::runtime::packr_runtime_new_with_host(base, host, &mut rt) };
        assert_eq!(status, PACKR_OK, "{}", last_error());
        self.runtimes.push(rt);
        rt
    }

    /// Instantiates with `config`, returning the status and (on success) the instance.
    pub fn try_instantiate_with(
        &mut self,
        module: *const packr_module,
        config: *const crate::instance_config::packr_instance_config,
    ) -> (crate::error::packr_status, *mut packr_instance) {
        let mut instance = ptr::null_mut();
        let status = unsafe { crate::instance::packr_module_instantiate_with(module, config, ptr::null_mut(), &mut instance) };
        if status == PACKR_OK {
            self.instances.push(instance);
        }
        (status, instance)
    }
}

impl Host {
    /// Frees every runtime and module now, leaving the instances for later.
    pub fn take_runtimes_and_modules(&mut self) {
        unsafe {
            self.modules.drain(..).for_each(|m| packr_module_free(m));
            self.runtimes.drain(..).for_each(|r| packr_runtime_free(r));
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        unsafe {
            self.instances.drain(..).for_each(|i| packr_instance_free(i));
            self.modules.drain(..).for_each(|m| packr_module_free(m));
            self.runtimes.drain(..).for_each(|r| packr_runtime_free(r));
        }
    }
}

pub fn i32v(v: i32) -> crate::val::packr_val {
    crate::val::packr_val { kind: crate::val::PACKR_I32, of: crate::val::packr_val_union { i32: v } }
}

pub fn i64v(v: i64) -> crate::val::packr_val {
    crate::val::packr_val { kind: crate::val::PACKR_I64, of: crate::val::packr_val_union { i64: v } }
}
