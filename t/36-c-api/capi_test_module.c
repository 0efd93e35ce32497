/*
 * A third-party nginx module for t/36-c-api: it uses the module's public
 * C API the way other modules (Kong's, lua-resty-* C parts) do, with the
 * prototypes of upstream's ngx_http_lua_api.h declared below, and is
 * compiled against the headers of the nginx under test.
 *
 *   capi_test_zone NAME SIZE;   a shared zone declared through the API
 *
 * Lua side (package "capi_test", registered in postconfiguration, and
 * "capi_test_early", registered while the directive is parsed, before the
 * Lua VM exists):
 *   incr(zone)      adds 1 to the zone's counter, returns it
 *   inits(zone)     how many times the zone's init ran, and with old data
 *   uri()           the uri of ngx_http_lua_get_request(L), or nil
 *   http10()        lua_http10_buffering of the request's location
 *   dict_get(zone, key [, buflen])  ngx_http_lua_shared_dict_get: rc, type, value
 *   sleep(ms, n)    yields the running thread on a timer of this module
 *                   (the co_ctx functions); resumes it with n + 1, "woke"
 *   cleanups()      how many pending sleeps were cleaned up (thread killed,
 *                   request ended)
 *   abandon(ms)     sets a sleep up, then cleans it up at once and returns
 *                   "abandoned" without yielding
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <lua.h>
#include <lauxlib.h>
#include <stdint.h>

typedef struct {
    uint8_t         type;
    union {
        int         b;
        lua_Number  n;
        ngx_str_t   s;
    } value;
} ngx_http_lua_value_t;

lua_State *ngx_http_lua_get_global_state(ngx_conf_t *cf);
ngx_http_request_t *ngx_http_lua_get_request(lua_State *L);
ngx_int_t ngx_http_lua_add_package_preload(ngx_conf_t *cf, const char *package,
    lua_CFunction func);
ngx_int_t ngx_http_lua_shared_dict_get(ngx_shm_zone_t *shm_zone,
    u_char *key_data, size_t key_len, ngx_http_lua_value_t *value);
ngx_shm_zone_t *ngx_http_lua_find_zone(u_char *name_data, size_t name_len);
ngx_shm_zone_t *ngx_http_lua_shared_memory_add(ngx_conf_t *cf, ngx_str_t *name,
    size_t size, void *tag);
int ngx_http_lua_get_lua_http10_buffering(ngx_http_request_t *r);

typedef struct ngx_http_lua_co_ctx_s  ngx_http_lua_co_ctx_t;
ngx_http_lua_co_ctx_t *ngx_http_lua_get_cur_co_ctx(ngx_http_request_t *r);
void ngx_http_lua_set_cur_co_ctx(ngx_http_request_t *r,
    ngx_http_lua_co_ctx_t *coctx);
lua_State *ngx_http_lua_get_co_ctx_vm(ngx_http_lua_co_ctx_t *coctx);
void *ngx_http_lua_get_co_ctx_data(ngx_http_lua_co_ctx_t *coctx);
void ngx_http_lua_set_co_ctx_cleanup(ngx_http_lua_co_ctx_t *coctx,
    ngx_http_cleanup_pt cleanup, void *data);
void ngx_http_lua_cleanup_co_ctx_pending_operation(
    ngx_http_lua_co_ctx_t *coctx);
void ngx_http_lua_co_ctx_resume_helper(ngx_http_lua_co_ctx_t *coctx, int nrets);

typedef struct {
    ngx_atomic_t    counter;
    ngx_uint_t      fresh_inits;
    ngx_uint_t      reused_inits;
} capi_shm_t;

static char *capi_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_int_t capi_postconfiguration(ngx_conf_t *cf);
static int luaopen_capi(lua_State *L);

static ngx_command_t capi_commands[] = {
    { ngx_string("capi_test_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      capi_zone, 0, 0, NULL },
    ngx_null_command
};

static ngx_http_module_t capi_ctx = {
    NULL, capi_postconfiguration, NULL, NULL, NULL, NULL, NULL, NULL
};

ngx_module_t ngx_http_lua_capi_test_module = {
    NGX_MODULE_V1,
    &capi_ctx, capi_commands, NGX_HTTP_MODULE,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NGX_MODULE_V1_PADDING
};

ngx_module_t *ngx_modules[] = { &ngx_http_lua_capi_test_module, NULL };
char *ngx_module_names[] = { "ngx_http_lua_capi_test_module", NULL };
char *ngx_module_order[] = { NULL };


static ngx_int_t
capi_zone_init(ngx_shm_zone_t *zone, void *data)
{
    capi_shm_t       *sh;
    ngx_slab_pool_t  *shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (data) {
        sh = data;
        sh->reused_inits++;
        zone->data = sh;
        return NGX_OK;
    }

    sh = ngx_slab_alloc(shpool, sizeof(capi_shm_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }
    sh->counter = 0;
    sh->fresh_inits = 1;
    sh->reused_inits = 0;
    zone->data = sh;
    return NGX_OK;
}


static char *
capi_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t       *value = cf->args->elts;
    ngx_shm_zone_t  *zone;
    ssize_t          size;

    size = ngx_parse_size(&value[2]);
    if (size == NGX_ERROR) {
        return "invalid size";
    }
    zone = ngx_http_lua_shared_memory_add(cf, &value[1], size,
                                          &ngx_http_lua_capi_test_module);
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }
    zone->init = capi_zone_init;
    /* the VM does not exist yet: the loader is kept until it does */
    if (ngx_http_lua_add_package_preload(cf, "capi_test_early", luaopen_capi)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }
    return NGX_CONF_OK;
}


static ngx_int_t
capi_postconfiguration(ngx_conf_t *cf)
{
    lua_State  *L = ngx_http_lua_get_global_state(cf);

    if (L != NULL) {
        lua_pushliteral(L, "seen by a C module at postconfiguration");
        lua_setglobal(L, "capi_test_global_state");
    }
    return ngx_http_lua_add_package_preload(cf, "capi_test", luaopen_capi);
}


static capi_shm_t *
capi_find(lua_State *L)
{
    size_t           len;
    const char      *name = luaL_checklstring(L, 1, &len);
    ngx_shm_zone_t  *zone;

    zone = ngx_http_lua_find_zone((u_char *) name, len);
    if (zone == NULL || zone->data == NULL) {
        return NULL;
    }
    return zone->data;
}


static int
capi_incr(lua_State *L)
{
    capi_shm_t  *sh = capi_find(L);

    if (sh == NULL) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushnumber(L, (lua_Number) ngx_atomic_fetch_add(&sh->counter, 1) + 1);
    return 1;
}


static int
capi_inits(lua_State *L)
{
    capi_shm_t  *sh = capi_find(L);

    if (sh == NULL) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushnumber(L, (lua_Number) sh->fresh_inits);
    lua_pushnumber(L, (lua_Number) sh->reused_inits);
    return 2;
}


static int
capi_uri(lua_State *L)
{
    ngx_http_request_t  *r = ngx_http_lua_get_request(L);

    if (r == NULL) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushlstring(L, (char *) r->uri.data, r->uri.len);
    return 1;
}


static int
capi_http10(lua_State *L)
{
    ngx_http_request_t  *r = ngx_http_lua_get_request(L);

    if (r == NULL) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushboolean(L, ngx_http_lua_get_lua_http10_buffering(r));
    return 1;
}


static int
capi_dict_get(lua_State *L)
{
    size_t                 nlen, klen;
    const char            *name = luaL_checklstring(L, 1, &nlen);
    const char            *key = luaL_checklstring(L, 2, &klen);
    lua_Integer            buflen = luaL_optinteger(L, 3, 16);
    u_char                 buf[64];
    ngx_int_t              rc;
    ngx_shm_zone_t        *zone;
    ngx_http_lua_value_t   v;

    zone = ngx_http_lua_find_zone((u_char *) name, nlen);
    ngx_memzero(&v, sizeof(v));
    v.value.s.data = buflen > 0 ? buf : NULL;
    v.value.s.len = buflen > 64 ? 64 : (size_t) buflen;
    rc = ngx_http_lua_shared_dict_get(zone, (u_char *) key, klen, &v);
    lua_pushinteger(L, rc);
    if (rc != NGX_OK) {
        return 1;
    }
    lua_pushinteger(L, v.type);
    switch (v.type) {
    case 1: lua_pushboolean(L, v.value.b); break;
    case 3: lua_pushnumber(L, v.value.n); break;
    case 4: lua_pushlstring(L, (char *) v.value.s.data, v.value.s.len); break;
    default: lua_pushnil(L);
    }
    return 3;
}


typedef struct {
    ngx_event_t             ev;
    ngx_http_lua_co_ctx_t  *coctx;
    ngx_http_request_t     *r;
    lua_Integer             n;
} capi_sleep_t;

static ngx_uint_t  capi_cleanups;


static void
capi_sleep_cleanup(void *data)
{
    capi_sleep_t  *s = data;

    capi_cleanups++;
    if (s->ev.timer_set) {
        ngx_del_timer(&s->ev);
    }
}


static void
capi_sleep_done(ngx_event_t *ev)
{
    capi_sleep_t  *s = ev->data;
    lua_State     *co = ngx_http_lua_get_co_ctx_vm(s->coctx);

    /* the record the thread waits with is ours */
    if (ngx_http_lua_get_co_ctx_data(s->coctx) != s) {
        ngx_log_error(NGX_LOG_ERR, ev->log, 0, "capi: wrong co_ctx data");
    }
    ngx_http_lua_set_cur_co_ctx(s->r, s->coctx);
    lua_pushinteger(co, s->n + 1);
    lua_pushliteral(co, "woke");
    ngx_http_lua_co_ctx_resume_helper(s->coctx, 2);
}


static int
capi_sleep(lua_State *L)
{
    ngx_http_request_t     *r = ngx_http_lua_get_request(L);
    ngx_http_lua_co_ctx_t  *coctx;
    capi_sleep_t           *s;

    if (r == NULL) {
        return luaL_error(L, "no request");
    }
    coctx = ngx_http_lua_get_cur_co_ctx(r);
    if (coctx == NULL) {
        return luaL_error(L, "no running thread");
    }
    s = ngx_pcalloc(r->pool, sizeof(capi_sleep_t));
    if (s == NULL) {
        return luaL_error(L, "no memory");
    }
    s->coctx = coctx;
    s->r = r;
    s->n = luaL_checkinteger(L, 2);
    s->ev.handler = capi_sleep_done;
    s->ev.data = s;
    s->ev.log = r->connection->log;
    ngx_http_lua_set_co_ctx_cleanup(coctx, capi_sleep_cleanup, s);
    ngx_add_timer(&s->ev, (ngx_msec_t) luaL_checkinteger(L, 1));
    return lua_yield(L, 0);
}


static int
capi_abandon(lua_State *L)
{
    ngx_http_request_t     *r = ngx_http_lua_get_request(L);
    ngx_http_lua_co_ctx_t  *coctx;
    capi_sleep_t           *s;

    coctx = r ? ngx_http_lua_get_cur_co_ctx(r) : NULL;
    if (coctx == NULL) {
        return luaL_error(L, "no running thread");
    }
    s = ngx_pcalloc(r->pool, sizeof(capi_sleep_t));
    if (s == NULL) {
        return luaL_error(L, "no memory");
    }
    s->ev.handler = capi_sleep_done;
    s->ev.data = s;
    s->ev.log = r->connection->log;
    s->coctx = coctx;
    ngx_http_lua_set_co_ctx_cleanup(coctx, capi_sleep_cleanup, s);
    ngx_add_timer(&s->ev, (ngx_msec_t) luaL_checkinteger(L, 1));
    ngx_http_lua_cleanup_co_ctx_pending_operation(coctx);
    lua_pushliteral(L, "abandoned");
    return 1;
}


static int
capi_cleanup_count(lua_State *L)
{
    lua_pushnumber(L, (lua_Number) capi_cleanups);
    return 1;
}


static int
luaopen_capi(lua_State *L)
{
    static const luaL_Reg  funcs[] = {
        { "incr", capi_incr },
        { "inits", capi_inits },
        { "uri", capi_uri },
        { "http10", capi_http10 },
        { "dict_get", capi_dict_get },
        { "sleep", capi_sleep },
        { "cleanups", capi_cleanup_count },
        { "abandon", capi_abandon },
        { NULL, NULL }
    };

    lua_createtable(L, 0, 5);
    luaL_register(L, NULL, funcs);
    return 1;
}
