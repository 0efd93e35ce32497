//! What the `*_by_lua*` directives share: reading their code (inline,
//! block or file) into a handler.
use std::ffi::CString;
use std::rc::Rc;

use nginx_sys::*;

use crate::conf::block::{BlockLexer, Scan};
use crate::conf::MainConf;
use crate::lua::handler::{FilePath, Handler, Source};
use crate::lua::phase::Phase;
use crate::nginx::conf::{BlockError, Conf, ConfError};

/// How a handler directive takes its code.
#[derive(Clone, Copy)]
pub enum Form {
    Block,
    Inline,
    File,
}

/// Longest tag, path and line upstream puts in a chunk name, so that
/// LuaJIT (which cuts names at 60 bytes) shows the end of a long path.
const CHUNK_NAME_MAX: usize = 56;

/// Chunk name as upstream builds it: `=tag(nginx.conf:LINE)`, with the conf
/// file's path relative to the conf prefix (or its base name for
/// `nginx.conf`); a path too long to fit keeps its end, after "...".
fn chunk_name(cf: Conf, tag: &str, line: usize) -> Vec<u8> {
    let (file, _) = cf.file();
    let cycle = cf.cycle();
    let prefix = cycle.conf_prefix();
    let line = line.to_string();
    let shown: &[u8] = if file.ends_with(b"/nginx.conf") {
        b"nginx.conf"
    } else if file.len() > prefix.len() && file.starts_with(prefix) {
        &file[prefix.len()..]
    } else {
        file
    };
    let room = CHUNK_NAME_MAX.saturating_sub(tag.len() + line.len());
    let mut name = format!("={tag}(").into_bytes();
    if shown.len() > room && shown != b"nginx.conf" {
        let keep = room.saturating_sub(3);
        name.extend_from_slice(b"...");
        name.extend_from_slice(&shown[shown.len() - keep.min(shown.len())..]);
    } else {
        name.extend_from_slice(shown);
    }
    name.push(b':');
    name.extend_from_slice(line.as_bytes());
    name.push(b')');
    name
}

/// Reads the raw Lua code of a `*_by_lua_block { ... }` straight from the
/// conf file, leaving nginx's parser right after the closing `}`.
fn read_block(cf: Conf) -> Result<Vec<u8>, ConfError> {
    let mut lx = BlockLexer::new();
    let code = cf.read_block(|text, eof| match lx.scan(text, eof) {
        Scan::Done(i) => Some(i),
        Scan::NeedMore => None,
    });
    let long_msg;
    let msg = match code {
        Ok(code) => return Ok(code),
        Err(BlockError::Eof) if lx.unclosed_long().is_some() => {
            let level = lx.unclosed_long().unwrap_or(0);
            long_msg = format!(
                "Lua code block missing the closing long bracket \"]{}]\", \
                 the inlined Lua code may be too long",
                "=".repeat(level)
            );
            long_msg.as_str()
        }
        Err(BlockError::NoFile) => "block directives are not supported in -g option",
        Err(BlockError::Eof) => {
            "unexpected end of file, expecting terminating characters for lua code block"
        }
        Err(BlockError::ShortRead) => "short read of the configuration file",
        Err(BlockError::Read) => return Err(ConfError::Logged),
    };
    cf.log(NGX_LOG_EMERG, msg);
    Err(ConfError::Logged)
}

/// Builds the handler of a `*_by_lua*` directive whose code (or file path)
/// is argument `code_arg` (the inline and file forms) or the block that
/// follows (the block form).
pub fn make_handler(
    cf: Conf,
    mcf: &mut MainConf,
    phase: Phase,
    form: Form,
    code_arg: usize,
) -> Result<Rc<Handler>, ConfError> {
    // nginx has read up to the `{` or the terminating `;`: the line is the
    // directive's.
    let (_, line) = cf.file();
    let args = cf.args();
    let source = match form {
        Form::Block => Source::Inline(read_block(cf)?),
        Form::Inline => {
            let code = args.get(code_arg).to_vec();
            // set_by_lua accepts empty code (its value is then empty).
            if code.is_empty() && phase != Phase::Set {
                cf.log(
                    NGX_LOG_EMERG,
                    &format!(
                        "invalid location config: no runnable Lua code in \"{}\"",
                        args.show(0)
                    ),
                );
                return Err(ConfError::Logged);
            }
            Source::Inline(code)
        }
        Form::File => {
            let arg = args.raw(code_arg).ok_or(ConfError::Logged)?;
            if arg.len == 0 {
                return Err(ConfError::Msg(c"invalid empty file path"));
            }
            Source::File(
                FilePath::compile(cf, arg, phase.file_path_variables()).ok_or(ConfError::Logged)?,
            )
        }
    };
    let chunkname = match &source {
        Source::Inline(_) => chunk_name(cf, phase.directive_tag(), line),
        Source::File(_) => Vec::new(),
    };
    let id = mcf.next_handler_id;
    mcf.next_handler_id += 1;
    Ok(Rc::new(Handler {
        phase,
        source,
        chunkname: CString::new(chunkname).unwrap_or_default(),
        id,
    }))
}
