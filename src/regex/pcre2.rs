//! The few libpcre2-8 entry points we use (the library nginx links; see
//! `build.rs`), declared by hand: the API is small and stable, and a
//! bindings crate would bring a second, vendored copy of PCRE2.
#![allow(non_camel_case_types)]
use core::ffi::{c_int, c_void};

pub enum pcre2_code {}
pub enum pcre2_match_data {}
pub enum pcre2_match_context {}
pub enum pcre2_jit_stack {}

pub const ANCHORED: u32 = 0x8000_0000;
pub const NO_UTF_CHECK: u32 = 0x4000_0000;
pub const ALLOW_EMPTY_CLASS: u32 = 0x0000_0001;
pub const ALT_BSUX: u32 = 0x0000_0002;
pub const CASELESS: u32 = 0x0000_0008;
pub const DOTALL: u32 = 0x0000_0020;
pub const DUPNAMES: u32 = 0x0000_0040;
pub const EXTENDED: u32 = 0x0000_0080;
pub const MATCH_UNSET_BACKREF: u32 = 0x0000_0200;
pub const MULTILINE: u32 = 0x0000_0400;
pub const UTF: u32 = 0x0008_0000;

pub const INFO_CAPTURECOUNT: u32 = 4;
pub const INFO_NAMECOUNT: u32 = 17;
pub const INFO_NAMEENTRYSIZE: u32 = 18;
pub const INFO_NAMETABLE: u32 = 19;
pub const JIT_COMPLETE: u32 = 1;
pub const CONFIG_VERSION: u32 = 11;

pub const ERROR_NOMATCH: c_int = -1;
pub const UNSET: usize = usize::MAX;

#[link(name = "pcre2-8")]
extern "C" {
    pub fn pcre2_compile_8(
        pattern: *const u8,
        length: usize,
        options: u32,
        errorcode: *mut c_int,
        erroroffset: *mut usize,
        ccontext: *mut c_void,
    ) -> *mut pcre2_code;
    pub fn pcre2_code_free_8(code: *mut pcre2_code);
    pub fn pcre2_get_error_message_8(errorcode: c_int, buffer: *mut u8, bufflen: usize) -> c_int;
    pub fn pcre2_pattern_info_8(code: *const pcre2_code, what: u32, where_: *mut c_void) -> c_int;
    pub fn pcre2_jit_compile_8(code: *mut pcre2_code, options: u32) -> c_int;
    pub fn pcre2_match_data_create_8(ovecsize: u32, gcontext: *mut c_void)
        -> *mut pcre2_match_data;
    pub fn pcre2_match_data_free_8(md: *mut pcre2_match_data);
    pub fn pcre2_get_ovector_pointer_8(md: *mut pcre2_match_data) -> *mut usize;
    pub fn pcre2_match_8(
        code: *const pcre2_code,
        subject: *const u8,
        length: usize,
        startoffset: usize,
        options: u32,
        md: *mut pcre2_match_data,
        mcontext: *mut pcre2_match_context,
    ) -> c_int;
    pub fn pcre2_dfa_match_8(
        code: *const pcre2_code,
        subject: *const u8,
        length: usize,
        startoffset: usize,
        options: u32,
        md: *mut pcre2_match_data,
        mcontext: *mut pcre2_match_context,
        workspace: *mut c_int,
        wscount: usize,
    ) -> c_int;
    pub fn pcre2_match_context_create_8(gcontext: *mut c_void) -> *mut pcre2_match_context;
    pub fn pcre2_set_match_limit_8(mcontext: *mut pcre2_match_context, value: u32) -> c_int;
    pub fn pcre2_jit_stack_create_8(
        startsize: usize,
        maxsize: usize,
        gcontext: *mut c_void,
    ) -> *mut pcre2_jit_stack;
    pub fn pcre2_jit_stack_free_8(stack: *mut pcre2_jit_stack);
    pub fn pcre2_jit_stack_assign_8(
        mcontext: *mut pcre2_match_context,
        callback: *mut c_void,
        data: *mut c_void,
    );
    pub fn pcre2_config_8(what: u32, where_: *mut c_void) -> c_int;
}
