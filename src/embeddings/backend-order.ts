/**
 * The order in which the batcher offers a request to its model's backends. It follows the router's
 * rules (src/routing/router.ts) but returns the whole order instead of running one call: the
 * batcher decides per request which backend's quota governor lets it go now, and the router's
 * run() cannot ask that before it sends.
 *
 * - backends the router's health passes over (cooling down after a 429, circuit open) are left out
 *   (those with an open circuit are the batcher's fallback when no other is left);
 * - the lowest priority first; within a priority a weighted random order, so requests spread over
 *   the group in proportion to the weights.
 *
 * The router's remaining-quota preference is left to the batcher's governors, which track the same
 * headers per backend and also count what was sent since.
 */
import type { Backend, Route, Router } from "../routing/index.js";

/** A backend's identity for its quota: Azure's limits are per deployment of a resource (the router's key for its health too). */
export { deploymentKey as backendKey } from "../routing/router.js";

/**
 * The route's backends the router would try now, in the order to offer them a request; with
 * `openCircuits`, instead those it passes over only because their circuit is open (a fallback for
 * queued work, which the request's own retries serve better than failing at once).
 */
export function backendOrder(router: Router, route: Route, random: () => number = Math.random, openCircuits = false): Backend[] {
  const available = route.backends.filter((backend) => {
    const availability = router.healthOf(backend).availability();
    return openCircuits ? !availability.available && availability.reason === "circuit_open" : availability.available;
  });
  const priorities = [...new Set(available.map((backend) => backend.priority))].sort((a, b) => a - b);
  return priorities.flatMap((priority) =>
    weightedShuffle(
      available.filter((backend) => backend.priority === priority),
      random,
    ),
  );
}

/** Each pick is weighted like the router's choice (Efraimidis-Spirakis keys: random^(1/weight), largest first). */
function weightedShuffle(backends: Backend[], random: () => number): Backend[] {
  if (backends.length <= 1) return backends;
  return backends
    .map((backend) => ({ backend, key: Math.pow(random(), 1 / backend.weight) }))
    .sort((a, b) => b.key - a.key)
    .map(({ backend }) => backend);
}
