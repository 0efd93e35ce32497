//! Embeds `lua-lib/` into the module and exports LuaJIT's C API from the
//! cdylib so Lua C modules (`cjson.so`, ...) loaded at run time link to it.
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, base: &Path, out: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("read lua-lib")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, base, out);
        } else if path.extension().is_some_and(|e| e == "lua") {
            let rel = path.strip_prefix(base).expect("under lua-lib");
            let name = rel
                .with_extension("")
                .to_string_lossy()
                .replace(std::path::MAIN_SEPARATOR, ".");
            out.push((name, path.clone()));
        }
    }
}

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let lib = root.join("lua-lib");
    println!("cargo:rerun-if-changed={}", lib.display());
    // scripts/link-gcc lays the module out by these at link time, which
    // cargo does not know of: a new list must relink the module.
    for f in ["link-order.txt", "link-order.awk", "link-gcc"] {
        println!(
            "cargo:rerun-if-changed={}",
            root.join("scripts").join(f).display()
        );
    }

    let mut modules = Vec::new();
    collect(&lib, &lib, &mut modules);
    // The sources sit together in a section of their own: the master reads
    // them all at start, a worker only those it loads lazily, and a worker
    // maps only the pages (and the 64 KiB around each) it reads. Mixed in
    // with the code's constants, which every worker reads, they would all
    // be mapped (docs/design.md, "Code layout").
    let mut src = String::new();
    let mut table = String::from("pub static EMBEDDED: &[(&str, &[u8])] = &[\n");
    for (i, (name, path)) in modules.iter().enumerate() {
        println!("cargo:rerun-if-changed={}", path.display());
        let len = fs::metadata(path).expect("lua-lib file").len();
        writeln!(
            src,
            "#[link_section = \".lua_lib\"]\nstatic M{i}: [u8; {len}] = *include_bytes!({:?});",
            path.display().to_string()
        )
        .unwrap();
        writeln!(table, "    ({name:?}, &M{i}),").unwrap();
    }
    table.push_str("];\n");
    src.push_str(&table);
    fs::write(out_dir.join("lua_lib.rs"), src).unwrap();

    // rustc's own version script hides every symbol it did not export;
    // GNU ld merges a second script, which re-exports LuaJIT's API.
    let script = out_dir.join("exports.map");
    fs::write(
        &script,
        "{\n  global:\n    lua_*;\n    luaL_*;\n    luaJIT_*;\n    luaopen_*;\n};\n",
    )
    .unwrap();
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!(
            "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
            script.display()
        );
    }

    // nginx version cfgs, so API differences are decided at build time.
    println!("cargo::rustc-check-cfg=cfg(ngx_lua_nginx_ge_1_25)");
    if let Ok(v) = env::var("DEP_NGINX_VERSION_NUMBER") {
        if v.trim().parse::<u64>().unwrap_or(0) >= 1_025_000 {
            println!("cargo:rustc-cfg=ngx_lua_nginx_ge_1_25");
        }
    }
    println!("cargo::rustc-check-cfg=cfg(ngx_lua_debug)");
    println!("cargo::rustc-check-cfg=cfg(ngx_lua_threads)");
    let mut configure = String::new();
    if let Ok(dir) = env::var("DEP_NGINX_BUILD_DIR") {
        println!("cargo:rustc-env=NGX_LUA_NGINX_BUILD_DIR={dir}");
        let header = Path::new(&dir).join("ngx_auto_config.h");
        println!("cargo:rerun-if-changed={}", header.display());
        for line in fs::read_to_string(&header).unwrap_or_default().lines() {
            if let Some(v) = line.strip_prefix("#define NGX_CONFIGURE ") {
                configure = v.trim().trim_matches('"').trim().to_string();
            } else if line.starts_with("#define NGX_DEBUG ") && line.trim_end().ends_with('1') {
                println!("cargo:rustc-cfg=ngx_lua_debug");
            } else if line.starts_with("#define NGX_THREADS ") && line.trim_end().ends_with('1') {
                // nginx built --with-threads: ngx.run_worker_thread works
                println!("cargo:rustc-cfg=ngx_lua_threads");
            }
        }
    }
    println!("cargo:rustc-env=NGX_LUA_CONFIGURE={configure}");
}
