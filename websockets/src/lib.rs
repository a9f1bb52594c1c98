//! A WebSocket client with the Lumberyard Websockets gem's API. (Docs come with issue 2.)
mod utf8_guard;
