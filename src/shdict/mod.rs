//! Shared dictionaries (`lua_shared_dict`, `ngx.shared.DICT`): the store
//! (pure, generic over the allocator) and its nginx zone.
pub mod foreign;
pub mod persist;
pub mod store;
pub mod zone;
