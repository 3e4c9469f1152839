// Starts the NHS.UK frontend's components that need no layout change (error summary focus,
// buttons). The header's navigation is not collapsed into a "More" menu: every link stays
// in view and wraps, with or without JavaScript.
import { initButtons, initErrorSummary } from "./nhsuk/nhsuk-frontend.min.js";

for (const start of [initButtons, initErrorSummary]) {
  try {
    start();
  } catch (error) {
    // an unsupported browser keeps the plain, working page
  }
}
