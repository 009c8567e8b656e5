package authserver_test

import (
	"os"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/authserver-dev/authserver/authserver/authtest"
)

func TestAccountScreenshotTemp(t *testing.T) {
	browser := startChromium(t)
	p := authtest.Start(t, nil)
	codeTokens(t, p)
	other := browserAs(t, p, "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")
	accountSignIn(t, p, other, "alice", "alice-password")
	tab := chromeTab(t, browser)
	chromeGo(t, tab, p.URL+"/account")
	chromeSignIn(t, tab, "alice", "alice-password")
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile("/tmp/account.png", png, 0o644)
	addDatabaseUser(t, p, "carol", "carol-password")
	tab2 := chromeTab(t, browser)
	chromeGo(t, tab2, p.URL+"/account")
	chromeSignIn(t, tab2, "carol", "carol-password")
	chromeType(t, tab2, `#current_password`, "nope-nope")
	chromeType(t, tab2, `#new_password`, "carol-new-password")
	chromeType(t, tab2, `#new_password_again`, "carol-new-password")
	chromeClick(t, tab2, `button[name=op][value=change_password]`)
	png, _ = chromedp.Run(tab2, chromedp.FullScreenshot(90))
	os.WriteFile("/tmp/account2.png", png, 0o644)
}
