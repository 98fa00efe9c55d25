package packr

import "testing"

// TestGoMessage: every C name packr's messages mention becomes this package's name, as a
// whole word; a name without a Go equivalent stays. The inputs are packr's messages as
// src/ writes them (those the other tests provoke are checked there, through wantErr).
func TestGoMessage(t *testing.T) {
	for _, tc := range []struct{ c, want string }{
		{
			"engine mismatch: the module was compiled by an engine this runtime does not share; " +
				"load it with this runtime, or create the runtime with packr_runtime_new_sharing_engine",
			"engine mismatch: the module was compiled by an engine this runtime does not share; " +
				"load it with this runtime, or create the runtime with NewRuntimeSharingEngine",
		},
		{
			"the instance config sets fuel, but the runtime's engine does not consume fuel; " +
				"enable it with packr_config_set_fuel on the config the runtime is made with",
			"the instance config sets fuel, but the runtime's engine does not consume fuel; " +
				"enable it with Config.Fuel on the config the runtime is made with",
		},
		{"the guest ran out of fuel; packr_instance_add_fuel gives it more", "the guest ran out of fuel; Instance.AddFuel gives it more"},
		{"the call was interrupted (packr_instance_interrupt)", "the call was interrupted (Instance.Interrupt, InterruptCall or a done context)"},
		{"cannot link module: 1 import unmet: wasi_snapshot_preview1::fd_write (not defined); a host serves WASI with packr_host_define_wasi",
			"cannot link module: 1 import unmet: wasi_snapshot_preview1::fd_write (not defined); a host serves WASI with Host.DefineWASI"},
		{
			"cannot instantiate module: the operating system refused memory or address space (ENOMEM); where " +
				"virtual memory is limited, a smaller packr_config_set_memory_reservation or a pooled runtime helps",
			"cannot instantiate module: the operating system refused memory or address space (ENOMEM); where " +
				"virtual memory is limited, a smaller Config.MemoryReservation or a pooled runtime helps",
		},
		{"the module is 300 bytes, above this runtime's limit of 100 (packr_config_set_max_module_bytes)",
			"the module is 300 bytes, above this runtime's limit of 100 (Config.MaxModuleBytes)"},
		{"a table starts at 20 elements, above the instance's limit of 10 (packr_instance_config_set_table_limit)",
			"a table starts at 20 elements, above the instance's limit of 10 (InstanceConfig.TableLimit)"},
		{"func `add` was resolved on other compiled code than this instance's; resolve it with packr_module_func on a module",
			"func `add` was resolved on other compiled code than this instance's; resolve it with Module.Func on a module"},
		{"unknown WASI output mode 7; use PACKR_WASI_INHERIT, PACKR_WASI_DISCARD or PACKR_WASI_CAPTURE",
			"unknown WASI output mode 7; use WASIInherit, WASIDiscard or WASICapture"},
		{"the instance's stdout is not captured; set PACKR_WASI_CAPTURE on its instance config",
			"the instance's stdout is not captured; set WASICapture in its WASIConfig"},
		// No Go equivalent: a DefineBytes func returns its bytes; the name stays.
		{"packr_caller_return_bytes is for callbacks of packr_host_define_bytes; this callback returns values",
			"packr_caller_return_bytes is for callbacks of Host.DefineBytes; this callback returns values"},
		// Whole words only.
		{"packr_config_set_fuel_x and xpackr_config_set_fuel stay", "packr_config_set_fuel_x and xpackr_config_set_fuel stay"},
		{"no names here", "no names here"},
	} {
		if got := goMessage(tc.c); got != tc.want {
			t.Errorf("goMessage(%q)\n got %q\nwant %q", tc.c, got, tc.want)
		}
	}
}
