//! Model text (answers, questions, judge reviews) as people read it in Chatbot Arena: Markdown
//! rendered to HTML — code blocks, lists, tables — and sanitised. Raw HTML in the text is shown
//! as text, never interpreted, and the result passes through ammonia's allow-list as well, so
//! no markup from a model (a `<script>`, an `onerror=`, a `javascript:` link) reaches a page.
//! Images become links (an image loads by itself, a link only when a person follows it), and
//! links must be absolute: a relative one would point at this site, such as `/vote`.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};

pub fn render(text: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(text, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Link { link_type, dest_url, title, id })
        }
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        other => other,
    });
    let mut unsafe_html = String::with_capacity(text.len() * 3 / 2);
    html::push_html(&mut unsafe_html, events);
    ammonia::Builder::default()
        .url_schemes(["http", "https", "mailto"].into())
        // Code blocks keep their language (`language-python`); no other element keeps a class.
        .add_tag_attributes("code", ["class"])
        .link_rel(Some("nofollow noopener noreferrer"))
        .url_relative(ammonia::UrlRelative::Deny)
        .clean(&unsafe_html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_is_rendered() {
        let html =
            render("# Title\n\n- one\n- two\n\n```python\nprint('<b>')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n");
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<li>one</li>"), "{html}");
        assert!(html.contains("<pre><code class=\"language-python\">print('&lt;b&gt;')"), "{html}");
        assert!(html.contains("<table>") && html.contains("<td>1</td>"), "{html}");
    }

    #[test]
    fn no_markup_from_the_text_survives() {
        for hostile in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<iframe src=\"https://example.org\"></iframe>",
            "<div style=\"position:fixed\">x</div>",
        ] {
            let html = render(hostile);
            // Escaped, the text may still read "onerror=": what must not exist is markup.
            for bad in ["<script", "<img", "<iframe", "<div", "<a href=\"javascript", "<a href=\"java"] {
                assert!(!html.to_ascii_lowercase().contains(bad), "{hostile} gave {html}");
            }
        }
        assert!(render("<script>x</script>").contains("&lt;script&gt;"));
    }

    #[test]
    fn images_become_links_and_links_must_be_absolute() {
        let html = render("![a chart](https://example.org/c.png) and ![](/vote) and [export](/api/battles/export)");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("<a href=\"https://example.org/c.png\"") && html.contains(">a chart</a>"), "{html}");
        assert!(!html.contains("href=\"/"), "no link back into this site: {html}");
    }
}
