//! One connection to PipeWire: the context, core, registry and the proxies bound through it
//! (nodes, the `default` metadata), the bus streams and the Layer A taps. [`connect`] opens
//! it; dropping it closes everything in the right order.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use pipewire as pw;
use pw::context::ContextRc;
use pw::core::CoreRc;
use pw::main_loop::MainLoopRc;
use pw::metadata::{Metadata, MetadataListener};
use pw::node::{Node, NodeListener};
use pw::properties::PropertiesBox;
use pw::registry::{GlobalObject, RegistryRc};
use pw::spa::utils::dict::DictRef;
use pw::spa::utils::result::AsyncSeq;

use super::bus::Bus;
use super::taps::{TapReadings, Taps};

/// Flags set from PipeWire callbacks that must not borrow the thread's state.
#[derive(Default)]
pub(super) struct CoreFlags {
    pub(super) dead: Cell<bool>,
    pub(super) dead_reason: RefCell<String>,
    pub(super) pending_sync: Cell<Option<AsyncSeq>>,
    pub(super) synced: Cell<bool>,
    pub(super) shutdown_sync: Cell<Option<AsyncSeq>>,
    pub(super) shutdown_synced: Cell<bool>,
}

/// Everything that belongs to one connection. Field order is drop order.
pub(super) struct Session {
    pub(super) bus: Option<Bus>,
    pub(super) taps: Taps,
    pub(super) metadata: Option<(u32, Metadata, MetadataListener)>,
    pub(super) nodes: HashMap<u32, (Node, NodeListener)>,
    _registry_listener: pw::registry::Listener,
    pub(super) registry: RegistryRc,
    _core_listener: pw::core::Listener,
    pub(super) core: CoreRc,
    _context: ContextRc,
    pub(super) flags: Rc<CoreFlags>,
}

/// Connects to PipeWire (`remote`: `remote.name`, `None` for the default) on `main_loop` and
/// binds the registry; `on_global` / `on_global_remove` receive the registry's objects. The
/// initial registry contents are complete once [`CoreFlags::synced`] is set.
pub(super) fn connect(
    main_loop: &MainLoopRc,
    remote: Option<&str>,
    taps: TapReadings,
    on_global: impl Fn(&GlobalObject<&DictRef>) + 'static,
    on_global_remove: impl Fn(u32) + 'static,
) -> Result<Session, String> {
    let mut cprops = PropertiesBox::new();
    // Real-time scheduling of the data thread needs the RT client config.
    cprops.insert("config.name", "client-rt.conf");
    let context = ContextRc::new(main_loop, Some(cprops)).map_err(|e| format!("context: {e}"))?;
    let mut core_props = PropertiesBox::new();
    if let Some(r) = remote {
        core_props.insert("remote.name", r);
    }
    let core = context
        .connect_rc(Some(core_props))
        .map_err(|e| format!("connect: {e}"))?;
    let registry = core
        .get_registry_rc()
        .map_err(|e| format!("registry: {e}"))?;
    let flags = Rc::new(CoreFlags::default());

    let core_listener = {
        let f_err = flags.clone();
        let f_done = flags.clone();
        core.add_listener_local()
            .error(move |id, _seq, res, msg| {
                if id == pw::core::PW_ID_CORE {
                    if res == -libc::EPIPE {
                        *f_err.dead_reason.borrow_mut() = format!("{msg} (EPIPE)");
                        f_err.dead.set(true);
                    } else if res == -libc::ENOENT {
                        // A request on an object that just went away (a stream that
                        // ended while we moved it): harmless.
                        tracing::debug!("PipeWire: {msg}");
                    } else {
                        tracing::warn!("PipeWire core error {res}: {msg}");
                    }
                } else {
                    tracing::debug!("PipeWire error on proxy {id}: {res} {msg}");
                }
            })
            .done(move |id, seq| {
                if id != pw::core::PW_ID_CORE {
                    return;
                }
                if f_done.pending_sync.get() == Some(seq) {
                    f_done.synced.set(true);
                }
                if f_done.shutdown_sync.get() == Some(seq) {
                    f_done.shutdown_synced.set(true);
                }
            })
            .register()
    };
    let registry_listener = registry
        .add_listener_local()
        .global(on_global)
        .global_remove(on_global_remove)
        .register();
    // The bus is created once the initial registry contents have arrived, so its playback
    // stream can name the real sink from the start.
    let seq = core.sync(0).map_err(|e| format!("sync: {e}"))?;
    flags.pending_sync.set(Some(seq));
    Ok(Session {
        bus: None,
        taps: Taps::new(taps),
        metadata: None,
        nodes: HashMap::new(),
        _registry_listener: registry_listener,
        registry,
        _core_listener: core_listener,
        core,
        _context: context,
        flags,
    })
}
