/** One scrape of a Prometheus endpoint: each series' value, keyed `name{label="value",…}` as printed. */
export type Scrape = Map<string, number>;

/** Prometheus' text format, as far as prom-client writes it (no timestamps). */
export function parseExposition(text: string): Scrape {
  const series = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    series.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return series;
}

/** A series' value, 0 when it is not there yet (a counter before its first increment). */
export function seriesValue(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  const rendered = Object.entries(labels)
    .map(([key, v]) => `${key}="${v}"`)
    .join(",");
  return scrape.get(rendered === "" ? name : `${name}{${rendered}}`) ?? 0;
}

/** GET `${baseUrl}/metrics`, parsed. */
export async function scrapeMetrics(baseUrl: string): Promise<Scrape> {
  const response = await fetch(`${baseUrl}/metrics`);
  if (response.status !== 200) throw new Error(`GET ${baseUrl}/metrics answered ${response.status}`);
  return parseExposition(await response.text());
}
