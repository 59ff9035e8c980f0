import { Link } from "../router";
import { usePageTitle } from "../ui";

export function NotFoundPage() {
  usePageTitle("Not found");
  return (
    <section>
      <h1>Not found</h1>
      <p>There is no page here. <Link to="/runs">Go to the runs</Link>.</p>
    </section>
  );
}
