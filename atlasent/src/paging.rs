//! Walking a paged listing (`GET /v1/permits`, `GET /v1-audit/events`)
//! page after page, for the async streams and the blocking iterators alike,
//! and the setters the queries of those listings share.

use std::future::Future;

use futures_util::Stream;

use crate::error::Error;

/// Setters of optional fields, each putting `Some(value)` into the field of
/// its name, with its doc line: `name(arg);` takes `impl Into<String>`,
/// `typed; name(arg: T);` takes a `T`, and `paging; …` adds a listing
/// query's paging (`limit`, `cursor`).
macro_rules! query_setters {
    (typed; $($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty);)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $arg: $ty) -> Self {
                self.$name = Some($arg);
                self
            }
        )*
    };
    (paging; $($rest:tt)*) => {
        $crate::paging::query_setters!($($rest)*);
        $crate::paging::query_setters! {
            typed;
            /// Page size.
            limit(limit: u32);
        }
        $crate::paging::query_setters! {
            /// Continue after a page.
            cursor(cursor);
        }
    };
    ($($(#[$doc:meta])* $name:ident($arg:ident);)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $arg: impl Into<String>) -> Self {
                self.$name = Some($arg.into());
                self
            }
        )*
    };
}
pub(crate) use query_setters;

/// A query of a paged listing.
pub(crate) trait Paged: Clone {
    /// One element of a page.
    type Item;
    /// One page as the client returns it.
    type Page;
    /// Whether an empty page that names a next cursor ends the walk.
    const EMPTY_PAGE_ENDS: bool;
    /// The cursor this query asks from.
    fn cursor(&self) -> Option<&str>;
    /// Ask from `cursor` instead.
    fn set_cursor(&mut self, cursor: String);
    /// A page's elements and its next cursor.
    fn split(page: Self::Page) -> (Vec<Self::Item>, Option<String>);
}

/// The paging state of one walk.
struct Pages<Q: Paged> {
    query: Q,
    buffer: std::vec::IntoIter<Q::Item>,
    error: Option<Error>,
    done: bool,
}

impl<Q: Paged> Pages<Q> {
    fn new(query: Q) -> Self {
        Self {
            query,
            buffer: Vec::new().into_iter(),
            error: None,
            done: false,
        }
    }

    /// The next element (or the error) already fetched.
    fn next_buffered(&mut self) -> Option<Result<Q::Item, Error>> {
        if let Some(item) = self.buffer.next() {
            return Some(Ok(item));
        }
        self.error.take().map(Err)
    }

    /// The query of the next page to fetch, `None` once the last was.
    fn next_query(&self) -> Option<Q> {
        (!self.done).then(|| self.query.clone())
    }

    /// Take in a fetched page (or its failure, which ends the walk).
    fn take(&mut self, page: Result<Q::Page, Error>) {
        match page {
            Ok(page) => {
                let (items, next) = Q::split(page);
                match next {
                    // A server that hands back the cursor it was given (or,
                    // where that ends a walk, an empty page with a cursor)
                    // would be walked forever.
                    Some(next)
                        if !(Q::EMPTY_PAGE_ENDS && items.is_empty())
                            && self.query.cursor() != Some(next.as_str()) =>
                    {
                        self.query.set_cursor(next);
                    }
                    _ => self.done = true,
                }
                self.buffer = items.into_iter();
            }
            Err(e) => {
                self.done = true;
                self.error = Some(e);
            }
        }
    }
}

/// Every element from `query` on, each page fetched by `fetch` when the
/// stream reaches it; the stream ends after the last page or after the
/// first error.
pub(crate) fn stream<Q, F, Fut>(
    query: Q,
    fetch: F,
) -> impl Stream<Item = Result<Q::Item, Error>> + Send + 'static
where
    Q: Paged + Send + 'static,
    Q::Item: Send,
    F: FnMut(Q) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Q::Page, Error>> + Send,
{
    futures_util::stream::unfold(
        (fetch, Pages::new(query)),
        |(mut fetch, mut pages)| async move {
            loop {
                if let Some(item) = pages.next_buffered() {
                    return Some((item, (fetch, pages)));
                }
                let query = pages.next_query()?;
                let page = fetch(query).await;
                pages.take(page);
            }
        },
    )
}

/// [`stream`]'s blocking twin: an iterator fetching each page with `fetch`.
#[cfg(feature = "blocking")]
pub(crate) fn iter<Q: Paged>(
    query: Q,
    mut fetch: impl FnMut(&Q) -> Result<Q::Page, Error>,
) -> impl Iterator<Item = Result<Q::Item, Error>> {
    let mut pages = Pages::new(query);
    std::iter::from_fn(move || loop {
        if let Some(item) = pages.next_buffered() {
            return Some(item);
        }
        let query = pages.next_query()?;
        let page = fetch(&query);
        pages.take(page);
    })
}
