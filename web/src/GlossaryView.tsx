import { useState } from "preact/hooks";
import { GLOSSARY } from "./glossary";

export function GlossaryView() {
  const [q, setQ] = useState("");
  const terms = GLOSSARY.filter((t) =>
    `${t.term} ${(t.aliases ?? []).join(" ")} ${t.short} ${t.long}`.toLowerCase().includes(q.toLowerCase()),
  ).sort((a, b) => a.term.localeCompare(b.term, undefined, { sensitivity: "base" }));
  return (
    <main class="page glossary">
      <h1>Glossary</h1>
      <p class="muted">Words from both worlds, so a guard can read a cyber alert and an analyst a physical one.</p>
      <label>
        Search <input type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
      </label>
      <dl>
        {terms.map((t) => (
          <div key={t.term} id={`term-${t.term.replace(/\W+/g, "-")}`} class={`term-entry area-${t.area}`}>
            <dt>
              {t.term} <span class="badge">{t.area}</span>
              {t.aliases && <span class="muted small"> also {t.aliases.join(", ")}</span>}
            </dt>
            <dd>
              <p>{t.short}</p>
              <p class="muted">{t.long}</p>
            </dd>
          </div>
        ))}
      </dl>
    </main>
  );
}
