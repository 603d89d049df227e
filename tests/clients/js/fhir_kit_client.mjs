// fhir-kit-client (Vermonster) through read, search with paging, create, update, patch and transaction.
import { Client } from "fhir-kit-client";
import { PAGED, base, family, report, token, transaction } from "./common.mjs";

const client = new Client({ baseUrl: base, bearerToken: token });
const patient = (suffix) => ({ resourceType: "Patient", name: [{ family: `${family}-${suffix}` }] });
let made;

await report({
  create: async () => {
    made = await client.create({ resourceType: "Patient", body: { ...patient("read"), gender: "female" } });
    return { id: made.id, versionId: made.meta.versionId };
  },
  read: async () => {
    const read = await client.read({ resourceType: "Patient", id: made.id });
    return { id: read.id, gender: read.gender };
  },
  search: async () => {
    for (let i = 0; i < PAGED; i++) await client.create({ resourceType: "Patient", body: patient("paged") });
    const pages = [];
    let bundle = await client.search({ resourceType: "Patient", searchParams: { family: `${family}-paged`, _count: 2 } });
    while (bundle) {
      pages.push((bundle.entry || []).length);
      bundle = await client.nextPage({ bundle });
    }
    const counted = await client.search({ resourceType: "Patient", searchParams: { family: `${family}-paged`, _summary: "count" } });
    return { pages, total: counted.total };
  },
  update: async () => {
    const updated = await client.update({ resourceType: "Patient", id: made.id, body: { ...made, birthDate: "1980-05-06" } });
    return { versionId: updated.meta.versionId, birthDate: updated.birthDate };
  },
  patch: async () => {
    const jsonPatch = [{ op: "add", path: "/active", value: true }];
    const patched = await client.patch({ resourceType: "Patient", id: made.id, jsonPatch });
    return { versionId: patched.meta.versionId, active: patched.active };
  },
  transaction: async () => {
    const answer = await client.transaction({ body: transaction() });
    return { type: answer.type, statuses: answer.entry.map((entry) => entry.response.status) };
  },
});
