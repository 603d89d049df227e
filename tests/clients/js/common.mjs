// What every JavaScript client script shares: its arguments, the transaction it posts, and how it reports.
// A script runs `node <script> <FHIR base URL> <bearer token> <family>` and prints one JSON object: per step, what
// the step saw ({"ok": ...}) or the error the client raised ({"error": "..."}), so the test can assert on each.

export const [base, token, family] = process.argv.slice(2);

export const PAGED = 5;

/** A transaction creating a patient and an Observation about it (a reference to the patient's fullUrl). */
export function transaction() {
  const fullUrl = "urn:uuid:5f0c7c42-9a43-4a8e-8f1e-6d1f6f9a0b01";
  const observation = {
    resourceType: "Observation",
    status: "final",
    code: { text: "body weight" },
    subject: { reference: fullUrl },
    valueQuantity: { value: 70, unit: "kg", system: "http://unitsofmeasure.org", code: "kg" },
  };
  return {
    resourceType: "Bundle",
    type: "transaction",
    entry: [
      { fullUrl, resource: { resourceType: "Patient", name: [{ family: `${family}-transaction` }] }, request: { method: "POST", url: "Patient" } },
      { resource: observation, request: { method: "POST", url: "Observation" } },
    ],
  };
}

/** Run the named steps in order (each an async function returning what it saw) and print the report. */
export async function report(steps) {
  const results = {};
  for (const [name, step] of Object.entries(steps)) {
    try {
      results[name] = { ok: await step() };
    } catch (error) {
      results[name] = { error: String(error && error.message ? error.message : error) };
    }
  }
  process.stdout.write(JSON.stringify(results) + "\n");
}
